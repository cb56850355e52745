//! airudder at the boundary (filled in by the airudder work).
