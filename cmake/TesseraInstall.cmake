# SPDX-License-Identifier: Apache-2.0
# `cmake --install` exports a CMake package: find_package(tessera CONFIG REQUIRED) + tessera::tessera.
include(CMakePackageConfigHelpers)
install(TARGETS tessera EXPORT tesseraTargets)
install(DIRECTORY include/ DESTINATION include)
install(EXPORT tesseraTargets NAMESPACE tessera:: DESTINATION lib/cmake/tessera)
configure_package_config_file(cmake/tesseraConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/tesseraConfig.cmake INSTALL_DESTINATION lib/cmake/tessera)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/tesseraConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tesseraConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/tesseraConfigVersion.cmake DESTINATION lib/cmake/tessera)
