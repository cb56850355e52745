use super::claim_piece;

#[test]
fn a_piece_is_one_request_to_each_routed_vendor_within_the_limit() {
    assert_eq!(claim_piece(1000, [500], true), 500);
    assert_eq!(claim_piece(1000, [500, 100], true), 600);
    assert_eq!(claim_piece(300, [500], true), 300);
    assert_eq!(claim_piece(1000, [2000], true), 1000);
}

#[test]
fn without_overlap_a_tick_claims_in_one_piece() {
    assert_eq!(claim_piece(1000, [500, 100], false), 1000);
}

#[test]
fn without_a_routed_vendor_the_piece_is_the_whole_limit() {
    assert_eq!(claim_piece(1000, [], true), 1000);
}

#[test]
fn a_vendor_that_reports_no_batch_size_still_gets_one_contact_a_piece() {
    assert_eq!(claim_piece(1000, [0], true), 1);
    assert_eq!(claim_piece(0, [500], true), 0);
}
