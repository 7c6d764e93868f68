# The ingestion ledger of a log partition (docs/logs.md, "Appending raw log files"): which source
# files `sawmill logs append` has read into it, and how far. Written beside each segment it
# appends, as <first-offset>.ledger; never modified.
@0xc1f1cf3606857aef;

$import "/capnp/c++.capnp".namespace("sawmill::schema");

struct IngestSource {
  path @0 :Text;          # the name it was last read under, for messages
  device @1 :UInt64;      # st_dev and st_ino when last read (0 for a store path)
  inode @2 :UInt64;
  size @3 :UInt64;        # the file's size in bytes when last read (compressed size if compressed)
  headLength @4 :UInt32;  # how many of its first (decompressed) bytes headHash covers: min(4096, consumed)
  headHash @5 :UInt64;    # XXH3-64 of those bytes: what recognises the file under another name
  consumed @6 :UInt64;    # decompressed bytes read into the partition, through the last complete line
  lines @7 :UInt64;       # lines among them (appended or skipped as bad)
  appendedMs @8 :Int64;   # when it last grew
}

struct IngestLedger {
  sources @0 :List(IngestSource);
}
