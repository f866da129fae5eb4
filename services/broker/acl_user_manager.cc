#include "services/broker/acl_user_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "services/broker/metadata_json.h"

namespace mq::broker {
namespace {

using acl::v1::User;
using acl::v1::UserTable;

bool ValidKeyChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '-'; }

absl::Status ValidatePerms(const google::protobuf::Map<std::string, acl::v1::Perm>& perms,
                           bool topics) {
  for (const auto& [name, perm] : perms) {
    absl::Status valid = topics ? ValidateTopic(name) : ValidateGroup(name);
    if (!valid.ok()) return valid;
    if (perm == acl::v1::PERM_UNSET || !acl::v1::Perm_IsValid(perm)) {
      return absl::InvalidArgumentError(absl::StrCat("the permission of ",
                                                     topics ? "topic " : "group ", QuoteInput(name),
                                                     " must be DENY, PUB, SUB or PUB_SUB"));
    }
  }
  return absl::OkStatus();
}

User* FindIn(UserTable* table, absl::string_view access_key) {
  for (User& user : *table->mutable_users()) {
    if (user.access_key() == access_key) return &user;
  }
  return nullptr;
}

absl::Status NoSuchUser(absl::string_view access_key) {
  return absl::NotFoundError(absl::StrCat("no user with access key ", QuoteInput(access_key)));
}

}  // namespace

absl::Status ValidateUser(const User& user, bool secret_optional) {
  const std::string& key = user.access_key();
  if (key.size() < 3 || key.size() > 64 || !std::all_of(key.begin(), key.end(), ValidKeyChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("access key ", QuoteInput(key), " must be 3..64 characters of [a-zA-Z0-9_-]"));
  }
  if (key == acl::kClusterAccessKey) {
    return absl::InvalidArgumentError(
        absl::StrCat("access key '", acl::kClusterAccessKey, "' is the cluster's own identity"));
  }
  if (!(secret_optional && user.secret_key().empty()) && user.secret_key().size() < 6) {
    return absl::InvalidArgumentError("the secret key must have at least 6 characters");
  }
  if (!acl::v1::Role_IsValid(user.role())) {
    return absl::InvalidArgumentError("the role must be ORDINARY or ADMIN");
  }
  if (absl::Status s = ValidatePerms(user.topic_perms(), true); !s.ok()) return s;
  if (absl::Status s = ValidatePerms(user.group_perms(), false); !s.ok()) return s;
  for (acl::v1::Perm perm : {user.default_topic_perm(), user.default_group_perm()}) {
    if (!acl::v1::Perm_IsValid(perm)) {
      return absl::InvalidArgumentError("a default permission is out of range");
    }
  }
  return acl::ValidateAllowedIps(
      std::vector<std::string>(user.allowed_ips().begin(), user.allowed_ips().end()));
}

AclUserManager::AclUserManager(store::StoreApi* store, acl::Authorizer* authorizer)
    : store_(store), authorizer_(authorizer) {}

absl::Status AclUserManager::Load() {
  absl::MutexLock lock(&mu_);
  UserTable table;
  return LoadLocked(&table);
}

absl::Status AclUserManager::LoadLocked(UserTable* table) {
  store::v1::GetMetadataRequest request;
  request.set_key(std::string(kAclUsersMetadataKey));
  absl::StatusOr<store::v1::GetMetadataResponse> response = store_->GetMetadata(request);
  if (!response.ok()) return response.status();
  const std::string value = response->found() ? response->value() : std::string();
  if (!value.empty()) {
    absl::Status parsed = ParseMetadataJson(value, table);
    if (!parsed.ok()) {
      return absl::DataLossError(absl::StrCat("metadata \"", kAclUsersMetadataKey,
                                              "\" is unreadable: ", parsed.message()));
    }
  }
  if (!loaded_ || value != last_value_) {
    if (authorizer_ != nullptr) authorizer_->SetUsers(*table);
    last_value_ = value;
    loaded_ = true;
  }
  return absl::OkStatus();
}

absl::Status AclUserManager::CommitLocked(const UserTable& table) {
  absl::StatusOr<std::string> json = ToMetadataJson(table);
  if (!json.ok()) return json.status();
  store::v1::PutMetadataRequest request;
  store::v1::MetadataEntry* entry = request.add_entries();
  entry->set_key(std::string(kAclUsersMetadataKey));
  entry->set_value(*json);
  absl::Status put = store_->PutMetadata(request);
  if (!put.ok()) return put;
  if (authorizer_ != nullptr) authorizer_->SetUsers(table);
  last_value_ = *std::move(json);
  loaded_ = true;
  return absl::OkStatus();
}

absl::Status AclUserManager::Create(const User& user) {
  if (absl::Status valid = ValidateUser(user, false); !valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  UserTable table;
  if (absl::Status loaded = LoadLocked(&table); !loaded.ok()) return loaded;
  if (FindIn(&table, user.access_key()) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("a user with access key ", QuoteInput(user.access_key()), " exists"));
  }
  *table.add_users() = user;
  return CommitLocked(table);
}

absl::Status AclUserManager::Update(const User& user) {
  if (absl::Status valid = ValidateUser(user, true); !valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  UserTable table;
  if (absl::Status loaded = LoadLocked(&table); !loaded.ok()) return loaded;
  User* old = FindIn(&table, user.access_key());
  if (old == nullptr) return NoSuchUser(user.access_key());
  std::string secret = old->secret_key();
  *old = user;
  if (old->secret_key().empty()) old->set_secret_key(std::move(secret));
  return CommitLocked(table);
}

absl::Status AclUserManager::Delete(absl::string_view access_key) {
  absl::MutexLock lock(&mu_);
  UserTable table;
  if (absl::Status loaded = LoadLocked(&table); !loaded.ok()) return loaded;
  auto* users = table.mutable_users();
  auto it = std::find_if(users->begin(), users->end(),
                         [&](const User& u) { return u.access_key() == access_key; });
  if (it == users->end()) return NoSuchUser(access_key);
  users->erase(it);
  return CommitLocked(table);
}

absl::Status AclUserManager::SetPerm(absl::string_view access_key, absl::string_view topic,
                                     absl::string_view group, acl::v1::Perm perm) {
  if (topic.empty() == group.empty()) {
    return absl::InvalidArgumentError("name exactly one of a topic and a group");
  }
  if (!acl::v1::Perm_IsValid(perm)) return absl::InvalidArgumentError("unknown permission");
  absl::MutexLock lock(&mu_);
  UserTable table;
  if (absl::Status loaded = LoadLocked(&table); !loaded.ok()) return loaded;
  User* user = FindIn(&table, access_key);
  if (user == nullptr) return NoSuchUser(access_key);
  auto* perms = topic.empty() ? user->mutable_group_perms() : user->mutable_topic_perms();
  const std::string name(topic.empty() ? group : topic);
  if (perm == acl::v1::PERM_UNSET) {
    perms->erase(name);
  } else {
    (*perms)[name] = perm;
  }
  if (absl::Status valid = ValidateUser(*user, false); !valid.ok()) return valid;
  return CommitLocked(table);
}

absl::StatusOr<std::vector<User>> AclUserManager::List() {
  absl::MutexLock lock(&mu_);
  UserTable table;
  if (absl::Status loaded = LoadLocked(&table); !loaded.ok()) return loaded;
  std::vector<User> users(table.users().begin(), table.users().end());
  for (User& user : users) user.clear_secret_key();
  std::sort(users.begin(), users.end(),
            [](const User& a, const User& b) { return a.access_key() < b.access_key(); });
  return users;
}

absl::StatusOr<UserTable> AclUserManager::Export() {
  absl::MutexLock lock(&mu_);
  UserTable table;
  if (absl::Status loaded = LoadLocked(&table); !loaded.ok()) return loaded;
  return table;
}

}  // namespace mq::broker
