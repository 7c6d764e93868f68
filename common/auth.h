// Mutual authentication of a connection with the cluster secret: an HMAC-SHA256 challenge in
// each direction, so neither side proves anything by replaying the other's messages and the
// secret never crosses the wire. An unauthenticated peer gets nothing else.
//
//   server -> client: server nonce (32 bytes)
//   client -> server: client nonce (32 bytes) + HMAC(secret, "client" | server nonce | client nonce)
//   server -> client: HMAC(secret, "server" | client nonce | server nonce)
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sawmill {

inline constexpr size_t kNonceSize = 32;
inline constexpr size_t kMacSize = 32;

std::string RandomNonce();
// `bytes` random bytes from the same source, as lowercase hex (tokens, secrets).
std::string RandomHex(size_t bytes);
std::string HmacSha256(std::string_view key, std::string_view message);
// Constant-time equality of two MACs.
bool MacEquals(std::string_view a, std::string_view b);

// The server's side: Challenge(), then Verify(client reply) gives the server's proof to send.
class AuthServer {
 public:
  explicit AuthServer(std::string secret) : secret_(std::move(secret)) {}
  const std::string& Challenge();
  // kPermissionDenied-like kInvalidArgument("authentication failed") on a wrong proof.
  Result<std::string> Verify(std::string_view client_reply);

 private:
  std::string secret_, nonce_;
};

// The client's side: Respond(server challenge), then Check(server proof).
class AuthClient {
 public:
  explicit AuthClient(std::string secret) : secret_(std::move(secret)) {}
  Result<std::string> Respond(std::string_view challenge);
  Status Check(std::string_view server_proof) const;

 private:
  std::string secret_, server_nonce_, nonce_;
};

// Cluster secret files: 32 random bytes, hex, mode 0600. Loading refuses a file readable by
// group or others, and names the path in every error.
Status WriteNewSecret(const std::string& path);
Result<std::string> LoadSecret(const std::string& path);

}  // namespace sawmill
