# -*- Python -*-
# The resnetc lit suite. Paths come from lit.site.cfg.py (configured by CMake).
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "resnetc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.resnetc_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit",
                   "Inputs"]

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.resnetc_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["resnet-opt", "resnetc"], tool_dirs)

config.substitutions.append(("%resnetc_src", config.resnetc_src_root))
config.substitutions.append(("%resnetc_lib", config.resnetc_lib_dir))
config.substitutions.append(("%python", config.python_executable))
