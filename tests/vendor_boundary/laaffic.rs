//! laaffic at the boundary (filled in by the laaffic work).
