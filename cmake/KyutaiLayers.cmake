# The engine as one static library per src/ folder, each compiled against an include view that
# holds only its own folder and, through its PUBLIC links, the folders of the layers below it:
#   core < io < kernels < nn < {lm, codec, text} < session
# A view is a build-tree directory with one symlink, <view>/<layer> -> src/<layer>, so
# `#include "lm/lm_model.h"` resolves for session but is "file not found" in kernels: an
# include against the layering fails to build. `kyutai` links every layer for the consumers.

set(KYUTAI_VIEW_ROOT ${CMAKE_BINARY_DIR}/include-views)
set(KYUTAI_LAYERS)

# kyutai_layer(<layer> [<lower layers it uses directly>...]): the library kyutai_<layer>.
# New .cpp files anywhere under src/<layer>/ are picked up at the next build (CONFIGURE_DEPENDS).
function(kyutai_layer layer)
  set(view ${KYUTAI_VIEW_ROOT}/${layer})
  file(MAKE_DIRECTORY ${view})
  file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${layer} ${view}/${layer} SYMBOLIC)
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${layer}/*.cpp)
  add_library(kyutai_${layer} STATIC ${sources})
  target_include_directories(kyutai_${layer} PUBLIC ${view})
  target_compile_options(kyutai_${layer} PUBLIC ${KYUTAI_COMMON_FLAGS})
  target_compile_options(kyutai_${layer} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  foreach(lower ${ARGN})
    target_link_libraries(kyutai_${layer} PUBLIC kyutai_${lower})
  endforeach()
  set(KYUTAI_LAYERS ${KYUTAI_LAYERS} kyutai_${layer} PARENT_SCOPE)
endfunction()

kyutai_layer(core)
kyutai_layer(io core)
kyutai_layer(kernels io)
kyutai_layer(nn kernels)
kyutai_layer(lm nn)
kyutai_layer(codec nn)
kyutai_layer(text io)
kyutai_layer(session lm codec text)

# A source outside the folders above would be left out of every library: say so at configure.
file(GLOB KYUTAI_SRC_ENTRIES CONFIGURE_DEPENDS LIST_DIRECTORIES true RELATIVE ${CMAKE_SOURCE_DIR}/src
     ${CMAKE_SOURCE_DIR}/src/*)
foreach(entry ${KYUTAI_SRC_ENTRIES})
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/src/${entry} AND TARGET kyutai_${entry})
    continue()
  endif()
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/src/${entry} OR entry MATCHES "\\.(c|cc|cpp|h|hpp)$")
    message(FATAL_ERROR "src/${entry} belongs to no layer: add kyutai_layer(<folder> <lower layers>) "
                        "to cmake/KyutaiLayers.cmake, or move it into a layer's folder")
  endif()
endforeach()

# Every consumer (tests, tools, bench, the WebAssembly modules, the fuzz targets) links this.
add_library(kyutai INTERFACE)
target_link_libraries(kyutai INTERFACE ${KYUTAI_LAYERS})
