# Relaxed-SIMD twins of the WebAssembly modules (kyutai-relaxed.mjs, kyutai-mt-relaxed.mjs,
# the test and bench modules): the same objects plus src/kernels/gemm_relaxed.c, whose 8-bit
# dot product Emscripten 3.1.6's clang 14 cannot emit. Debian's clang-19 compiles that one file
# (C, freestanding, no calls) to a wasm32 object, which Emscripten's linker takes as it is.
# Engines without relaxed SIMD refuse to compile a twin, so web/src/engine.js loads one only
# where WebAssembly.validate accepts a relaxed-SIMD instruction.
find_program(KYUTAI_RELAXED_CC NAMES clang-19 clang-18 clang-17 clang-16)
if(NOT KYUTAI_RELAXED_CC)
  message(STATUS "kyutai: no clang >= 16 found, no relaxed-SIMD modules (scripts/setup.sh installs clang-19)")
  function(kyutai_relaxed_twin)
  endfunction()
  return()
endif()
message(STATUS "kyutai: relaxed-SIMD kernel compiled by ${KYUTAI_RELAXED_CC}")

set(KYUTAI_RELAXED_OBJECT ${CMAKE_BINARY_DIR}/gemm_relaxed.o)
set(KYUTAI_RELAXED_FLAGS --target=wasm32 -ffreestanding -O3 -mcpu=mvp -msimd128 -mrelaxed-simd -ffp-contract=off)
if(KYUTAI_THREADS)
  list(APPEND KYUTAI_RELAXED_FLAGS -matomics -mbulk-memory)  # shared memory needs both in every object
endif()
add_custom_command(OUTPUT ${KYUTAI_RELAXED_OBJECT}
  COMMAND ${KYUTAI_RELAXED_CC} ${KYUTAI_RELAXED_FLAGS} -c ${CMAKE_SOURCE_DIR}/src/kernels/gemm_relaxed.c -o ${KYUTAI_RELAXED_OBJECT}
  DEPENDS ${CMAKE_SOURCE_DIR}/src/kernels/gemm_relaxed.c
  COMMENT "Compiling the relaxed-SIMD kernel")
add_custom_target(kyutai_relaxed_kernel DEPENDS ${KYUTAI_RELAXED_OBJECT})

# kyutai_relaxed_twin(<target> <objects>): <target>_relaxed, linked like <target> (whose
# sources are the OBJECT library <objects>) with the relaxed kernel, named <name>-relaxed.
function(kyutai_relaxed_twin target objects)
  set(twin ${target}_relaxed)
  add_executable(${twin} $<TARGET_OBJECTS:${objects}>)
  foreach(property LINK_LIBRARIES LINK_OPTIONS SUFFIX)
    get_target_property(value ${target} ${property})
    if(value)
      set_property(TARGET ${twin} PROPERTY ${property} "${value}")
    endif()
  endforeach()
  get_target_property(name ${target} OUTPUT_NAME)
  if(NOT name)
    set(name ${target})
  endif()
  set_target_properties(${twin} PROPERTIES OUTPUT_NAME ${name}-relaxed)
  add_dependencies(${twin} kyutai_relaxed_kernel)
  target_link_libraries(${twin} PRIVATE ${KYUTAI_RELAXED_OBJECT})
  set_property(TARGET ${twin} APPEND PROPERTY LINK_DEPENDS ${KYUTAI_RELAXED_OBJECT})
endfunction()
