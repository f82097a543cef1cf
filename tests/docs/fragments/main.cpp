// Statements of a program: the block is the body of main().
#include <beeline/beeline.hpp>

#include <chrono>

int main() {
  // @BLOCK@
}
