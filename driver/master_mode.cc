#include "driver/master_mode.h"

#include "driver/attempt_result.h"

#include <capnp/message.h>

#include "common/auth.h"
#include "common/capnp_util.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "dfs/client/connect_dfs.h"
#include "mapreduce/attempt.capnp.h"

namespace sawmill {

Result<MasterSpec> ReadMasterSpec(const std::string& spec_path) {
  std::string bytes;
  RETURN_IF_ERROR(ReadFileToString(spec_path, &bytes));
  ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(bytes));
  MasterSpec m;
  RETURN_IF_ERROR(CatchCapnp("attempt spec " + spec_path, [&]() -> Status {
    auto s = reader->Root<proto::AttemptSpec>();
    m.master = s.getMaster();
    m.job_id = Text(s.getJobId());
    m.attempt = s.getAttempt();
    m.attempt_id = Text(s.getAttemptId());
    m.namenode = Text(s.getNamenode());
    m.secret_file = Text(s.getSecretFile());
    m.host = Text(s.getHost());
    m.coordinator = Text(s.getCoordinator());
    m.result_path = Text(s.getResultPath());
    return Status::Ok();
  }));
  if (m.master && (m.job_id.empty() || m.coordinator.empty() || m.result_path.empty())) {
    return InvalidArgument(spec_path + ": a master's spec without its job, coordinator or resultPath");
  }
  return m;
}

Status ConnectSpecStore(const MasterSpec& spec, const ReconnectOptions& reconnect) {
  if (spec.namenode.empty()) return InvalidArgument("the attempt spec names no store");
  ASSIGN_OR_RETURN(std::string secret, LoadSecret(spec.secret_file));
  dfs::DfsClient::Options options;
  options.client_host = spec.host;
  options.reconnect = reconnect;
  // The registry owns the connection, transport included (common/local_fs.h).
  std::shared_ptr<dfs::DfsConnection> store = dfs::ConnectDfsAt(spec.namenode, std::move(secret), options);
  SetDfs(std::shared_ptr<FileSystem>(store, store->client.get()));
  return Status::Ok();
}

Status WriteMasterResult(const MasterSpec& spec, const Status& master_error, const MasterOutcome& outcome) {
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<proto::AttemptResult>();
  r.setOk(master_error.ok());
  r.setError(master_error.ok() ? "" : master_error.ToString());
  r.setProgramError(outcome.program_error);
  r.setRecordsOut(outcome.records_out);
  r.setBytesOut(outcome.bytes_out);
  SetResultCounters(r, outcome.counters);
  return WriteResultFile(spec.result_path, message);
}

}  // namespace sawmill
