# The namenode's durable metadata: journal records (one mutation each) and checkpoint images.
@0xeab2297a89497fee;

$import "/capnp/c++.capnp".namespace("sawmill::dfs::schema");

# One namespace mutation. Paths are normalized (dfs/path.h). Replaying the records in txid order
# on the checkpoint they follow reproduces the namespace exactly: every input a mutation depends
# on (times, block ids) is in the record.
struct JournalRecord {
  txid @0 :UInt64;
  union {
    mkdirs @1 :Mkdirs;
    create @2 :Create;
    addBlock @3 :AddBlock;
    complete @4 :Complete;
    abandon @5 :Abandon;
    rename @6 :Rename;
    delete @7 :Delete;
    setReplication @8 :SetReplication;
    abandonBlock @9 :AbandonBlock;
  }

  struct Mkdirs { path @0 :Text; mtime @1 :Int64; }
  struct Create {
    path @0 :Text;
    replication @1 :UInt32;
    blockSize @2 :UInt64;
    clientName @3 :Text;
    mtime @4 :Int64;
  }
  struct AddBlock {
    path @0 :Text;
    clientName @1 :Text;
    blockId @2 :UInt64;          # must equal the namespace's next block id
    generation @3 :UInt64;
  }
  struct Complete {
    path @0 :Text;
    clientName @1 :Text;
    blockLengths @2 :List(UInt64);  # one per block, in order
    mtime @3 :Int64;
  }
  struct Abandon { path @0 :Text; }
  struct Rename { src @0 :Text; dst @1 :Text; mtime @2 :Int64; }
  struct Delete { path @0 :Text; recursive @1 :Bool; mtime @2 :Int64; }
  struct SetReplication { path @0 :Text; replication @1 :UInt32; }
  # Drops the last block of a file under construction (a writer whose pipeline failed). The
  # block id is not reused: the next block id stays where it is.
  struct AbandonBlock {
    path @0 :Text;
    clientName @1 :Text;
    blockId @2 :UInt64;          # must be the file's last block
  }
}

# A checkpoint: the whole namespace as of transaction lastTxid.
struct Image {
  formatVersion @0 :UInt32;
  lastTxid @1 :UInt64;
  nextBlockId @2 :UInt64;
  inodes @3 :List(Inode);        # pre-order, parents before children, root first

  struct Inode {
    path @0 :Text;
    isDir @1 :Bool;
    mtime @2 :Int64;
    replication @3 :UInt32;      # files only, as are the fields below
    blockSize @4 :UInt64;
    blocks @5 :List(Block);
    underConstruction @6 :Bool;
    leaseHolder @7 :Text;
  }

  struct Block {
    id @0 :UInt64;
    generation @1 :UInt64;
    length @2 :UInt64;
  }
}
