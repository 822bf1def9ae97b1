//! Native unit tests on stylus-test's TestVM.
