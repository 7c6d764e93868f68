# Install rules: cmake --install puts the api headers, libraries and a Sawmill CMake package under the prefix.
# Out-of-tree jobs then do find_package(Sawmill) and link the one target Sawmill::api
# (docs/out-of-tree.md). Install rules and target properties only: the normal build is unchanged.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SAWMILL_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Sawmill)

# Imported targets that SawmillConfig.cmake.in recreates (find_dependency / pkg_check_modules).
# A job library that starts linking anything else must add it there and here.
set(_sawmill_known_deps
    PkgConfig::LZ4 PkgConfig::XXHASH PkgConfig::ZSTD ZLIB::ZLIB BZip2::BZip2 CapnProto::capnp CapnProto::kj gflags glog::glog
    Threads::Threads OpenSSL::Crypto OpenSSL::SSL nlohmann_json::nlohmann_json)
# Header-only dependencies of .cc files only (Asio in common/rpc_tcp.cc): the static libraries
# already hold what they compiled, so the installed package must not ask users for them.
set(_sawmill_build_only_deps Boost::headers Boost::boost)

# _sawmill_link_closure(TARGET OUT): TARGET and the sawmill (non-imported) targets it links,
# transitively, through INTERFACE_LINK_LIBRARIES ($<LINK_ONLY:x> included).
function(_sawmill_link_closure root out)
  set(seen "")
  set(queue ${root})
  while(queue)
    list(POP_FRONT queue t)
    if(t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(deps ${t} INTERFACE_LINK_LIBRARIES)
    if(NOT deps)
      continue()
    endif()
    foreach(d IN LISTS deps)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" d "${d}")
      if(d MATCHES "^\\$<" OR NOT TARGET ${d})
        continue()
      endif()
      get_target_property(imported ${d} IMPORTED)
      if(imported)
        if(NOT d IN_LIST _sawmill_known_deps AND NOT d IN_LIST _sawmill_build_only_deps)
          message(WARNING "Sawmill install: ${t} links ${d}, which SawmillConfig.cmake.in does not "
                          "find; out-of-tree jobs will fail to configure until it does")
        endif()
        continue()
      endif()
      get_target_property(aliased ${d} ALIASED_TARGET)
      if(aliased)
        set(d ${aliased})
      endif()
      list(APPEND queue ${d})
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

if(NOT TARGET sawmill_api)
  return()
endif()
_sawmill_link_closure(sawmill_api _sawmill_install_libs)

foreach(lib IN LISTS _sawmill_install_libs)
  # Build-only deps stay in the build's link interface but out of the exported one.
  get_target_property(deps ${lib} INTERFACE_LINK_LIBRARIES)
  if(deps)
    set(rewritten "")
    set(changed FALSE)
    foreach(d IN LISTS deps)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" bare "${d}")
      if(bare IN_LIST _sawmill_build_only_deps)
        set(d "$<BUILD_INTERFACE:${d}>")
        set(changed TRUE)
      endif()
      list(APPEND rewritten "${d}")
    endforeach()
    if(changed)
      set_target_properties(${lib} PROPERTIES INTERFACE_LINK_LIBRARIES "${rewritten}")
    endif()
  endif()
  # Sawmill::common, Sawmill::mapreduce, ... and Sawmill::api for sawmill_api.
  string(REGEX REPLACE "^sawmill_" "" export_name ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${export_name})
endforeach()
# The headers and libraries are C++20; consumers get -std=c++20 (or newer) from the target.
set_property(TARGET sawmill_api APPEND PROPERTY INTERFACE_COMPILE_FEATURES cxx_std_20)

install(TARGETS ${_sawmill_install_libs}
  EXPORT SawmillTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The CLI (`sawmill cat`, `sawmill gen`) is useful next to out-of-tree jobs; installed when built.
if(TARGET sawmill)
  install(TARGETS sawmill RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} OPTIONAL)
endif()

# Headers: api/*.h and every repo header they include, transitively (from the source tree or the
# generated gen/ dir), at the same relative paths. The walk runs at install time so that it follows
# the headers as they are then, without a re-configure. Fails if one includes Asio or a quoted
# header that is neither in the tree nor generated.
set(_sawmill_headers_code [=[
  cmake_policy(PUSH)
  cmake_policy(VERSION 3.25)  # cmake_install.cmake runs with old policies (IN_LIST, cmake_path)
  set(src "@CMAKE_SOURCE_DIR@")
  set(gen "@CMAKE_BINARY_DIR@/gen")
  set(dest "${CMAKE_INSTALL_PREFIX}/@CMAKE_INSTALL_INCLUDEDIR@")
  file(GLOB queue RELATIVE "${src}" "${src}/api/*.h")
  list(SORT queue)
  set(seen "")
  while(queue)
    list(POP_FRONT queue rel)
    if(rel IN_LIST seen)
      continue()
    endif()
    list(APPEND seen "${rel}")
    if(EXISTS "${src}/${rel}")
      set(path "${src}/${rel}")
    elseif(EXISTS "${gen}/${rel}")
      set(path "${gen}/${rel}")
    else()
      message(FATAL_ERROR "Sawmill install: header ${rel} not found in ${src} or ${gen} (run the build first)")
    endif()
    get_filename_component(reldir "${rel}" DIRECTORY)
    file(STRINGS "${path}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line IN LISTS includes)
      if(line MATCHES "[<\"](boost/asio|asio)[./]")
        message(FATAL_ERROR "Sawmill install: ${rel} includes Asio (${line}); job-facing headers must not")
      endif()
      # <...> includes are system or dependency headers unless they name a repo file (capnp
      # imports may come out that way); "..." includes must resolve in the tree.
      string(REGEX MATCH "include[ \t]*([<\"])([^>\"]+)" unused "${line}")
      set(delim "${CMAKE_MATCH_1}")
      set(inc "${CMAKE_MATCH_2}")
      set(in_repo FALSE)
      foreach(root IN ITEMS "${src}" "${gen}")
        if(EXISTS "${root}/${inc}" AND NOT IS_DIRECTORY "${root}/${inc}")
          set(in_repo TRUE)
        endif()
      endforeach()
      if(in_repo)
        list(APPEND queue "${inc}")
      elseif(delim STREQUAL "<")
        continue()
      elseif(reldir AND (EXISTS "${src}/${reldir}/${inc}" OR EXISTS "${gen}/${reldir}/${inc}"))
        set(inc_rel "${reldir}/${inc}")
        cmake_path(NORMAL_PATH inc_rel)
        list(APPEND queue "${inc_rel}")
      else()
        message(FATAL_ERROR "Sawmill install: ${rel} includes \"${inc}\", found neither in ${src} nor in ${gen}")
      endif()
    endforeach()
    file(INSTALL DESTINATION "${dest}/${reldir}" TYPE FILE FILES "${path}")
  endwhile()
  cmake_policy(POP)
]=])
string(CONFIGURE "${_sawmill_headers_code}" _sawmill_headers_code @ONLY)
install(CODE "${_sawmill_headers_code}")

install(EXPORT SawmillTargets
  NAMESPACE Sawmill::
  DESTINATION ${SAWMILL_INSTALL_CMAKEDIR})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/SawmillConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/SawmillConfig.cmake
  INSTALL_DESTINATION ${SAWMILL_INSTALL_CMAKEDIR})
set(_sawmill_install_cmake_files ${CMAKE_BINARY_DIR}/cmake/SawmillConfig.cmake)
# project() carries no VERSION yet; with one, find_package(Sawmill X.Y) checks it.
if(PROJECT_VERSION)
  write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/SawmillConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  list(APPEND _sawmill_install_cmake_files ${CMAKE_BINARY_DIR}/cmake/SawmillConfigVersion.cmake)
endif()
install(FILES ${_sawmill_install_cmake_files} DESTINATION ${SAWMILL_INSTALL_CMAKEDIR})
