// File store paths: normalization of client-supplied paths and helpers on normalized ones.
// Every path the namenode stores or journals has gone through NormalizePath.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sawmill::dfs {

inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxComponentBytes = 255;

// "/a//b/" -> "/a/b". Absolute paths only; rejects "." and ".." components (we never resolve
// them: a client must say what it means), NUL bytes, components over 255 bytes and paths over
// 4096 bytes, all with kInvalidArgument naming the path.
Result<std::string> NormalizePath(std::string_view path);

// The helpers below take normalized paths.
// "/a/b" -> "/a"; "/a" -> "/"; "/" -> "/".
std::string ParentOf(std::string_view path);
// "/a/b" -> "b"; "/" -> "".
std::string BaseName(std::string_view path);
// True when `ancestor` is `path` itself or a directory above it ("/a" is one of "/a/b", not of "/ab").
bool IsAncestor(std::string_view ancestor, std::string_view path);
// "/a/b" -> {"a", "b"}; "/" -> {}.
std::vector<std::string> SplitPath(std::string_view path);
// JoinChild("/", "a") = "/a"; JoinChild("/a", "b") = "/a/b".
std::string JoinChild(std::string_view dir, std::string_view name);

}  // namespace sawmill::dfs
