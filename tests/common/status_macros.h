// ASSERT_OK / EXPECT_OK for a Status-valued expression: the failure prints the expression and
// the status.
#pragma once

#include <gtest/gtest.h>

#include "common/status.h"

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    ::sawmill::Status _s = (expr);                           \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                      \
  do {                                                       \
    ::sawmill::Status _s = (expr);                           \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)
