# Sanitizer and fuzzing builds (scripts/sanitize.sh, scripts/fuzz.sh); clang only.
#   -DDIFFULEX_SANITIZE=address   ASan + UBSan (UBSan findings abort: -fno-sanitize-recover)
#   -DDIFFULEX_SANITIZE=thread    TSan
#   -DDIFFULEX_FUZZ=ON            with address: also the libFuzzer targets of tests/fuzz. Every
#                                 object gets libFuzzer's coverage instrumentation
#                                 (fuzzer-no-link), so one build runs the tests and the fuzzers.
set(DIFFULEX_SANITIZE "" CACHE STRING "Sanitizer build: address (ASan + UBSan) or thread (TSan)")
set_property(CACHE DIFFULEX_SANITIZE PROPERTY STRINGS "" address thread)
option(DIFFULEX_FUZZ "Build the libFuzzer targets of tests/fuzz (with DIFFULEX_SANITIZE=address)"
       OFF)

if(NOT DIFFULEX_SANITIZE AND NOT DIFFULEX_FUZZ)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "DIFFULEX_SANITIZE / DIFFULEX_FUZZ need clang "
                      "(cmake -DCMAKE_CXX_COMPILER=clang++ ...; scripts/sanitize.sh does this)")
endif()
if(DIFFULEX_SANITIZE STREQUAL "address")
  set(_dlx_san -fsanitize=address,undefined -fno-sanitize-recover=undefined)
elseif(DIFFULEX_SANITIZE STREQUAL "thread")
  set(_dlx_san -fsanitize=thread)
else()
  message(FATAL_ERROR "DIFFULEX_SANITIZE must be address or thread, not '${DIFFULEX_SANITIZE}'")
endif()
if(DIFFULEX_FUZZ AND NOT DIFFULEX_SANITIZE STREQUAL "address")
  message(FATAL_ERROR "DIFFULEX_FUZZ needs DIFFULEX_SANITIZE=address")
endif()
add_compile_options(${_dlx_san} -fno-omit-frame-pointer)
add_link_options(${_dlx_san})
if(DIFFULEX_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
message(STATUS "DiffuLex: sanitizers ${DIFFULEX_SANITIZE}, fuzz targets ${DIFFULEX_FUZZ}")
