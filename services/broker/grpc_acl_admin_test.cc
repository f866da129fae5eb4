#include "services/broker/grpc_acl_admin.h"

#include <gtest/gtest.h>

#include "common/acl/authorizer.h"
#include "common/testing/fake_clock.h"
#include "services/broker/acl_user_manager.h"
#include "testing/fake_store.h"

namespace mq::broker {
namespace {

acl::v1::User Alice() {
  acl::v1::User user;
  user.set_access_key("alice");
  user.set_secret_key("alice-secret-1");
  (*user.mutable_topic_perms())["Orders"] = acl::v1::PUB;
  return user;
}

// The proxy follows the brokers' users with ExportUsers: the table as stored,
// secrets included, where ListUsers blanks them.
TEST(AclUserManagerTest, ExportKeepsTheSecretsListBlanksThem) {
  mq::testing::FakeStore store;
  AclUserManager users(&store, nullptr);
  ASSERT_TRUE(users.Create(Alice()).ok());
  absl::StatusOr<acl::v1::UserTable> table = users.Export();
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->users_size(), 1);
  EXPECT_EQ(table->users(0).secret_key(), "alice-secret-1");
  EXPECT_EQ(table->users(0).topic_perms().at("Orders"), acl::v1::PUB);
  absl::StatusOr<std::vector<acl::v1::User>> listed = users.List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].secret_key(), "");
}

// Without access control nobody can prove to be the cluster: the secrets stay
// on the broker, whoever asks.
TEST(AclAdminServiceTest, ExportUsersIsRefusedWhenAccessControlIsOff) {
  mq::testing::FakeStore store;
  AclUserManager users(&store, nullptr);
  ASSERT_TRUE(users.Create(Alice()).ok());
  FakeClock clock;
  acl::Authorizer disabled(acl::AclOptions{}, &clock);
  for (const acl::Authorizer* authorizer : {static_cast<const acl::Authorizer*>(nullptr),
                                            static_cast<const acl::Authorizer*>(&disabled)}) {
    AclAdminService service(&users, authorizer, /*slave=*/false);
    grpc::ServerContext context;
    acl::v1::ExportUsersResponse response;
    grpc::Status status =
        service.ExportUsers(&context, &acl::v1::ExportUsersRequest::default_instance(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(status.error_message().find("access control is off"), std::string::npos)
        << status.error_message();
    EXPECT_EQ(response.table().users_size(), 0);
  }
}

}  // namespace
}  // namespace mq::broker
