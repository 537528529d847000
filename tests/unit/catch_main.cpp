// tests/unit/catch_main.cpp — the one Catch2 main, compiled once for every unit suite.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
