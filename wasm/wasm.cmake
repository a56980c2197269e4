# The Embind module: ES6, runs in browsers (window, worker) and in Node.
# Built twice by scripts/build.sh: single-threaded (kyutai.mjs) and with pthreads
# (kyutai-mt.mjs, needs a cross-origin-isolated page).
file(GLOB KYUTAI_BIND_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/wasm/*.cpp)
if(KYUTAI_THREADS)
  set(KYUTAI_MODULE_NAME kyutai-mt)
else()
  set(KYUTAI_MODULE_NAME kyutai)
endif()
add_library(kyutai_bind_objects OBJECT ${KYUTAI_BIND_SOURCES})
target_link_libraries(kyutai_bind_objects PRIVATE kyutai)
target_include_directories(kyutai_bind_objects PRIVATE ${CMAKE_SOURCE_DIR}/wasm)
add_executable(kyutai_module $<TARGET_OBJECTS:kyutai_bind_objects>)
set_target_properties(kyutai_module PROPERTIES OUTPUT_NAME ${KYUTAI_MODULE_NAME} SUFFIX ".mjs")
target_link_libraries(kyutai_module PRIVATE kyutai)
target_link_options(kyutai_module PRIVATE
  --bind -fexceptions
  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createKyutaiModule
  -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sINITIAL_MEMORY=64MB -sABORTING_MALLOC=0
  -sTOTAL_STACK=2MB
  -sEXPORTED_FUNCTIONS=_malloc,_free
  -sEXPORTED_RUNTIME_METHODS=HEAPU8
  --extern-pre-js ${CMAKE_SOURCE_DIR}/wasm/node_shim.js
  --pre-js ${CMAKE_SOURCE_DIR}/wasm/node_wasm_pre.js)
if(KYUTAI_THREADS)
  target_link_options(kyutai_module PRIVATE -pthread -sPTHREAD_POOL_SIZE=navigator.hardwareConcurrency||4)
endif()

include(${CMAKE_SOURCE_DIR}/wasm/relaxed.cmake)
kyutai_relaxed_twin(kyutai_module kyutai_bind_objects)
