// Job fingerprints for dataset memoization (docs/datasets.md): a hash of the job binary's
// SHA-256, its arguments and the content of its inputs. Internal to job_main.cc.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace sawmill {

// `inputs` are resolved paths or logs: selections; `args` the binary's flags that shape its
// output (job_main.cc drops the ones that do not). 32 hex digits.
// `*lineage`, when given, receives what was hashed, one item per line ("binary SHA256",
// "arg ...", "input PATH NAME=HASH;..."): the version's lineage record.
Result<std::string> JobFingerprint(const std::vector<std::string>& inputs, const std::vector<std::string>& args,
                                   std::string* lineage = nullptr);

// The fingerprint stored beside a dataset version (its _FINGERPRINT file), or "" when none.
std::string ReadVersionFingerprint(const std::string& version_dir);
Status WriteVersionFingerprint(const std::string& version_dir, const std::string& fingerprint);
// The lineage beside a version (_LINEAGE: the fingerprint's inputs), or "" when none.
std::string ReadVersionLineage(const std::string& version_dir);
Status WriteVersionLineage(const std::string& version_dir, const std::string& lineage);

}  // namespace sawmill
