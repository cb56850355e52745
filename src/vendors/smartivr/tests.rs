//! Tests of the smartivr adapter and fake.
