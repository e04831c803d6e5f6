from __future__ import annotations

from customers.masking import mask_address, mask_email, mask_middle, mask_national_id


def test_mask_middle_keeps_first_three_and_last_four():
    assert mask_middle("330102199001011234") == "330***********1234"


def test_mask_middle_hides_most_of_a_short_value():
    masked = mask_middle("12345")
    assert masked.count("*") >= 2 and masked != "12345"


def test_mask_national_id_keeps_little_of_a_short_id():
    assert mask_national_id("330102199001011234") == "330***********1234"
    assert mask_national_id("7103192745") == "********45"


def test_mask_email_keeps_domain_only():
    assert mask_email("li.wei@bank.cn") == "l*****@bank.cn"


def test_masks_leave_empty_values_empty():
    assert mask_middle("") == "" and mask_email("") == "" and mask_address("") == ""
