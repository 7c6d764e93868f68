// A short-circuit write: the client writes one block's file itself, in a tmp file granted by
// the datanode on its own machine, then has the datanode finalize it (docs/dfs.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/rpc.h"
#include "common/status.h"
#include "dfs/block_info.h"
#include "dfs/datanode/block_file.h"

namespace sawmill::dfs {

class LocalBlockWrite {
 public:
  // Asks the datanode at the other end of `conn` for a localWrite grant of `block` and creates
  // the granted file. On failure *conn_usable says whether the conversation may go on (the
  // datanode refused: the caller can send writeBlock on `conn` instead) or must be closed.
  static Result<std::unique_ptr<LocalBlockWrite>> Start(Connection& conn, const BlockInfo& block,
                                                        const std::string& client, bool* conn_usable);
  // Closes the file; unless finalized, removes its name (the datanode also does when the
  // conversation ends, and at its start-up).
  ~LocalBlockWrite();
  LocalBlockWrite(const LocalBlockWrite&) = delete;
  LocalBlockWrite& operator=(const LocalBlockWrite&) = delete;

  // Errors name the file and the block.
  Status Append(std::string_view data);
  // Finishes the file (checksum table, footer, sync as granted) and has the datanode store it:
  // ok once its ack for `length` bytes came back.
  Status Finalize(Connection& conn);

  // The block's data bytes stay readable here at offset kBlockFileHeaderBytes after Finalize,
  // even if it failed and the file's name is gone: a fallback pipeline resends them from here.
  int data_fd() const { return data_fd_; }
  const std::string& path() const { return path_; }
  uint64_t length() const { return writer_->length(); }

 private:
  LocalBlockWrite(BlockInfo block, std::string path, bool sync) : block_(block), path_(std::move(path)), sync_(sync) {}
  std::string What() const;

  const BlockInfo block_;
  const std::string path_;
  const bool sync_;
  std::unique_ptr<BlockFileWriter> writer_;
  int data_fd_ = -1;
  bool finalized_ = false;
};

}  // namespace sawmill::dfs
