# The file store's wire protocol: frame headers (common/frame.h) exchanged with the namenode
# (clients and datanodes) and with datanodes (clients and other datanodes). Bulk block bytes are
# frame bodies, never message fields. Every connection is authenticated first (docs/formats/wire.md).
@0xc1f0a3d5b7e29a41;

$import "/capnp/c++.capnp".namespace("sawmill::dfs::proto");

# A failed request: code is a sawmill::StatusCode (0 = ok), message names the path or block.
struct Error {
  code @0 :UInt16;
  message @1 :Text;
}

struct Block {
  id @0 :UInt64;
  generation @1 :UInt64;
  length @2 :UInt64;
}

struct DatanodeInfo {
  id @0 :Text;          # stable across restarts (kept in the datanode's directory)
  host @1 :Text;        # placement host (simulated hosts share one machine)
  address @2 :Text;     # "ip:port" of its data service
  machine @3 :Text;     # the real machine (boot id): same machine => short-circuit reads possible
  capacityBytes @4 :UInt64;
  usedBytes @5 :UInt64;
  live @6 :Bool;
  blocks @7 :UInt64;    # replicas it holds (namenode's view)
  lastHeartbeatMs @8 :Int64;
  localSocket @9 :Text; # "unix:/path" of its data service for peers on the same machine, "" if none
}

struct LocatedBlock {
  block @0 :Block;
  datanodes @1 :List(DatanodeInfo);   # pipeline order for writes; good live replicas for reads
}

struct FileStatus {
  path @0 :Text;
  isDir @1 :Bool;
  mtime @2 :Int64;       # milliseconds since the epoch
  size @3 :UInt64;
  replication @4 :UInt32;
  blockSize @5 :UInt64;
}

struct FsckEntry {
  blockId @0 :UInt64;
  path @1 :Text;
  datanode @2 :Text;     # corrupt replicas only
}

struct FsckReport {
  totalBlocks @0 :UInt64;
  openBlocks @1 :UInt64;
  underReplicated @2 :List(FsckEntry);
  missing @3 :List(FsckEntry);
  corrupt @4 :List(FsckEntry);
  liveDatanodes @5 :UInt32;
  deadDatanodes @6 :UInt32;
}

# An order to a datanode, carried by heartbeat responses.
struct Command {
  union {
    copy @0 :Copy;           # send the replica of `block` to `target` (re-replication)
    delete @1 :Block;        # remove this replica (exactly this generation)
  }
  struct Copy {
    block @0 :Block;
    target @1 :DatanodeInfo;
  }
}

# ---- namenode: one request, one response, repeated on a connection ----

struct NamenodeRequest {
  union {
    # Clients. `client` names the lease holder (unique per client process).
    mkdirs @0 :Text;
    create @1 :Create;
    addBlock @2 :AddBlock;
    abandonBlock @3 :AbandonBlock;
    complete @4 :Complete;
    renewLease @5 :Text;                 # client name
    rename @6 :Rename;
    delete @7 :Delete;
    stat @8 :Text;
    list @9 :Text;
    getBlockLocations @10 :Text;
    reportBadReplica @11 :BadReplica;    # a reader found a corrupt replica
    fsck @12 :Void;
    datanodes @13 :Void;
    setReplication @14 :SetReplication;
    # Datanodes.
    register @15 :Register;
    heartbeat @16 :Heartbeat;
    blockReport @17 :BlockReport;
    blockReceived @18 :ReplicaEvent;
    blockDeleted @19 :ReplicaEvent;
    reportCorrupt @20 :ReplicaEvent;
  }

  struct Create {
    path @0 :Text;
    client @1 :Text;
    replication @2 :UInt32;    # 0: the namenode's default
    blockSize @3 :UInt64;      # 0: the namenode's default
  }
  struct AddBlock {
    path @0 :Text;
    client @1 :Text;
    writerHost @2 :Text;       # "" when the writer runs no datanode
    excludeDatanodes @3 :List(Text);   # ids that failed in an earlier pipeline
    blocksBefore @4 :Int64 = -1;       # the blocks the writer knows the file has; -1: unknown.
                                       # Set, it makes a repeat of this addBlock safe
  }
  struct AbandonBlock {
    path @0 :Text;
    client @1 :Text;
    blockId @2 :UInt64;        # must be the file's last block
  }
  struct Complete {
    path @0 :Text;
    client @1 :Text;
    blockLengths @2 :List(UInt64);
  }
  struct Rename { src @0 :Text; dst @1 :Text; }
  struct Delete { path @0 :Text; recursive @1 :Bool; }
  struct BadReplica { blockId @0 :UInt64; datanode @1 :Text; }
  struct SetReplication { path @0 :Text; replication @1 :UInt32; }
  struct Register {
    datanode @0 :DatanodeInfo;
    blocks @1 :List(Block);    # full block report
  }
  struct Heartbeat {
    id @0 :Text;
    capacityBytes @1 :UInt64;
    usedBytes @2 :UInt64;
  }
  struct BlockReport {
    id @0 :Text;
    blocks @1 :List(Block);
  }
  struct ReplicaEvent {
    id @0 :Text;
    block @1 :Block;
  }
}

struct NamenodeResponse {
  error @0 :Error;
  union {
    none @1 :Void;
    locatedBlock @2 :LocatedBlock;
    locations @3 :Locations;
    fileStatus @4 :FileStatus;
    listing @5 :List(FileStatus);
    fsck @6 :FsckReport;
    datanodes @7 :List(DatanodeInfo);
    commands @8 :List(Command);       # heartbeat; "register again" is error code kNotFound
    registered @9 :Registered;
  }
  struct Locations {
    file @0 :FileStatus;
    blocks @1 :List(LocatedBlock);
  }
  struct Registered {
    heartbeatIntervalMs @0 :UInt32;
    blockReportIntervalMs @1 :UInt32;
  }
}

# ---- datanode ----
#
# Write (client or previous datanode -> datanode): writeBlock, then packets (body = data, in
# order), the last one with last = true; the datanode forwards each packet to the next datanode
# of `downstream` before writing it, finalizes the replica, waits for the downstream ack and
# answers with one ack for the whole pipeline. The writer keeps the block's bytes until then.
# Read: readBlock; the answer is a readStart, then packets (body = verified data) up to `last`.
# Short-circuit: localBlock; the answer is a grant naming the replica file.
# Short-circuit write (a client on the datanode's machine, one-datanode pipeline): localWrite;
# the answer is a grant naming a new temporary block file (chunkSize, sync) or an error (the
# conversation goes on, so the client may send writeBlock instead). The client writes the whole
# block file itself (docs/formats/block-file.md), then sends finalizeLocal on the same
# connection; the datanode validates the file, stores it as it stores a pipeline's replica and
# answers an ack. A conversation that ends before finalizeLocal removes the temporary file.

struct DatanodeRequest {
  union {
    writeBlock @0 :WriteBlock;
    packet @1 :Packet;
    readBlock @2 :ReadBlock;
    localBlock @3 :UInt64;          # block id
    localWrite @4 :LocalWrite;
    finalizeLocal @5 :Block;        # the granted block with the length written
  }
  struct LocalWrite {
    block @0 :Block;                # length unused
    client @1 :Text;
    machine @2 :Text;               # the client's machine id: a grant needs the datanode's own
  }
  struct WriteBlock {
    block @0 :Block;                # length unused
    downstream @1 :List(DatanodeInfo);
    client @2 :Text;
  }
  struct ReadBlock {
    blockId @0 :UInt64;
    offset @1 :UInt64;
    length @2 :UInt64;
  }
}

struct Packet {
  seqno @0 :UInt64;
  last @1 :Bool;
  error @2 :Error;          # a read that failed mid-stream (e.g. a corrupt chunk)
}

struct DatanodeResponse {
  error @0 :Error;
  union {
    none @1 :Void;
    ack @2 :Ack;
    readStart @3 :Block;    # the replica being read
    packet @4 :Packet;
    grant @5 :Grant;
  }
  struct Ack {
    stored @0 :List(Text);  # ids of the datanodes that finalized the replica, pipeline order
    failed @1 :Text;        # id of the first datanode that failed ("" when none)
    length @2 :UInt64;
  }
  struct Grant {
    path @0 :Text;
    generation @1 :UInt64;
    length @2 :UInt64;
    chunkSize @3 :UInt32;
    dataOffset @4 :UInt64;
    sync @5 :Bool;          # localWrite: fdatasync the file before finalizeLocal
  }
}
