//! Native unit tests on stylus-test's TestVM (one contract per VM).
