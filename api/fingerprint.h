// Job fingerprints for dataset memoization (docs/datasets.md): a hash of the job binary's
// SHA-256, its arguments and the content of its inputs. Internal to job_main.cc.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace sawmill {

// `inputs` are resolved paths or logs: selections; `args` the binary's flags that shape its
// output (job_main.cc drops the ones that do not). 32 hex digits.
Result<std::string> JobFingerprint(const std::vector<std::string>& inputs, const std::vector<std::string>& args);

// The fingerprint stored beside a dataset version (its _FINGERPRINT file), or "" when none.
std::string ReadVersionFingerprint(const std::string& version_dir);
Status WriteVersionFingerprint(const std::string& version_dir, const std::string& fingerprint);

}  // namespace sawmill
