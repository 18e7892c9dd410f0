# resnetc's CMake package: find_package(resnetc) in a user's project.
#
#   resnetc_add_model(TARGET name MODEL model.mlir [TARGET_ARCH host|x86-64-avx2|...])
#
# compiles MODEL at build time with `resnetc compile` into a library target
# `name` (link it; it brings name.h's directory and -lpthread -ldl -lm),
# in the spirit of Halide's add_halide_library.
#
# The package sits in PREFIX/lib/cmake/resnetc, beside PREFIX/bin/resnetc,
# in the build tree as in an installation.
get_filename_component(_resnetc_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.."
                       ABSOLUTE)
set(RESNETC_EXECUTABLE "${_resnetc_prefix}/bin/resnetc"
    CACHE FILEPATH "The resnetc compiler")
if(NOT EXISTS "${RESNETC_EXECUTABLE}")
  set(resnetc_FOUND FALSE)
  set(resnetc_NOT_FOUND_MESSAGE "no resnetc at ${RESNETC_EXECUTABLE}")
  return()
endif()

include(CMakeParseArguments)
find_package(Threads REQUIRED)

function(resnetc_add_model)
  cmake_parse_arguments(ARG "" "TARGET;MODEL;TARGET_ARCH" "" ${ARGN})
  if(NOT ARG_TARGET OR NOT ARG_MODEL)
    message(FATAL_ERROR "resnetc_add_model needs TARGET and MODEL")
  endif()
  if(NOT ARG_TARGET_ARCH)
    set(ARG_TARGET_ARCH host)
  endif()
  get_filename_component(model "${ARG_MODEL}" ABSOLUTE)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${ARG_TARGET}.resnetc")
  set(lib "${dir}/lib${ARG_TARGET}.a")
  set(header "${dir}/${ARG_TARGET}.h")
  add_custom_command(
    OUTPUT "${lib}" "${header}" "${dir}/lib${ARG_TARGET}.so"
    COMMAND "${RESNETC_EXECUTABLE}" compile "${model}" -o "${dir}"
            --name "${ARG_TARGET}" --target "${ARG_TARGET_ARCH}"
    DEPENDS "${model}" "${RESNETC_EXECUTABLE}"
    COMMENT "resnetc: compiling ${ARG_TARGET} for ${ARG_TARGET_ARCH}"
    VERBATIM)
  add_custom_target(${ARG_TARGET}.compile DEPENDS "${lib}" "${header}")
  add_library(${ARG_TARGET} INTERFACE)
  add_dependencies(${ARG_TARGET} ${ARG_TARGET}.compile)
  file(MAKE_DIRECTORY "${dir}")
  target_include_directories(${ARG_TARGET} INTERFACE "${dir}")
  target_link_libraries(${ARG_TARGET} INTERFACE "${lib}" Threads::Threads
                        ${CMAKE_DL_LIBS} m)
endfunction()
