"""Scoring clinical instruments: totals, bands and subscales as the published manuals score them."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import domain.instruments
from domain.errors import InvalidAnswers, UnknownInstrument
from domain.instruments import INSTRUMENTS, Score, score

# --- builders: answer sheets that show only what a rule is about ---------------------------------

YES, NO = True, False


def rated(count: int, total: int, top: int) -> list[int]:
    """`count` items scored 0-`top` whose points add up to `total`, filled from item 1."""
    assert 0 <= total <= count * top
    sheet = []
    for _ in range(count):
        points = min(top, total)
        sheet.append(points)
        total -= points
    return sheet


def phq9(total: int = 0, *, item9: int | None = None) -> list[int]:
    """A PHQ-9 sheet adding up to `total`, filled from item 1 unless item 9 is given."""
    if item9 is None:
        return rated(9, total, 3)
    return [*rated(8, total - item9, 3), item9]


def audit(total: int) -> list[int]:
    """Items 1-8 carry the points, items 1-3, 7 and 8 first (4-6 move the zone up, WHO Table
    4 footnote); items 9 and 10 answered 'no' (0)."""
    points = rated(8, total, 4)
    order = (1, 2, 3, 7, 8, 4, 5, 6)
    items = dict(zip(order, points, strict=True))
    return [*(items[item] for item in range(1, 9)), 0, 0]


def dast10(points: int) -> list[bool]:
    """A DAST-10 sheet scoring `points`: 'yes' to the first items but item 3 (stop at will)."""
    able_to_stop = points < 10
    others = [YES] * min(points, 9) + [NO] * (9 - min(points, 9))
    return [*others[:2], able_to_stop, *others[2:]]


def cssrs(
    *,
    q1: bool = NO,
    q2: bool = NO,
    q3: bool = NO,
    q4: bool = NO,
    q5: bool = NO,
    q6: bool = NO,
    within_3_months: bool | None = None,
) -> list[bool]:
    sheet = [q1, q2, q3, q4, q5, q6]
    return sheet if within_3_months is None else [*sheet, within_3_months]


BAM_RISK_ITEMS = (1, 2, 3, 8, 11, 15)
BAM_PROTECTIVE_ITEMS = (9, 10, 12, 13, 14, 16)


def bam(
    *,
    use: Sequence[int] = (0, 0, 0),
    risk: Sequence[int] = (1, 1, 1, 1, 1, 1),
    protective: Sequence[int] = (3, 3, 3, 3, 4, 2),
    item7: int = 0,
    item17: int = 0,
) -> list[int]:
    """A BAM sheet; defaults are a stable client: no use, risk 6, protective 18."""
    items = dict(zip(BAM_RISK_ITEMS, risk, strict=True))
    items |= dict(zip((4, 5, 6), use, strict=True))
    items |= dict(zip(BAM_PROTECTIVE_ITEMS, protective, strict=True))
    items |= {7: item7, 17: item17}
    return [items[item] for item in range(1, 18)]


VALID_SHEETS: dict[str, list[int] | list[bool]] = {
    "PHQ-9": phq9(),
    "GAD-7": [0] * 7,
    "AUDIT-C": [0] * 3,
    "AUDIT": audit(0),
    "DAST-10": dast10(0),
    "C-SSRS-SCREEN": cssrs(),
    "BAM": bam(),
}
RATING_SCALES = ("PHQ-9", "GAD-7", "AUDIT-C", "AUDIT", "BAM")
YES_NO_SCREENS = ("DAST-10", "C-SSRS-SCREEN")


def refusal(instrument: str, answers: Sequence[object]) -> str:
    with pytest.raises(InvalidAnswers) as refused:
        score(instrument, answers)  # type: ignore[arg-type]  # the edge may send anything
    assert refused.value.code == "invalid_answers"
    return str(refused.value)


# --- the public surface --------------------------------------------------------------------------


def test_the_care_record_scores_exactly_the_seven_instruments() -> None:
    assert (
        frozenset({"PHQ-9", "GAD-7", "AUDIT-C", "AUDIT", "DAST-10", "C-SSRS-SCREEN", "BAM"})
        == INSTRUMENTS
    )
    assert sorted(domain.instruments.__all__) == ["INSTRUMENTS", "Score", "cut_points", "score"]


def test_the_published_cut_points_are_the_bands_the_scorers_give() -> None:
    phq9 = domain.instruments.cut_points("PHQ-9")
    assert phq9 is not None
    highest, bands = phq9
    assert highest == 27
    assert [low for low, _ in bands] == [0, 5, 10, 15, 20]
    for low, band in bands:  # the chart's line and the scorer's band agree at each cut-point
        assert score("PHQ-9", [0] * 8 + [0]).band == "minimal"
        answers = [3] * (low // 3) + [low % 3] + [0] * (8 - low // 3)
        assert score("PHQ-9", answers[:9]).band == band
    assert domain.instruments.cut_points("BAM") is None


@pytest.mark.parametrize("instrument", ["PHQ9", "phq-9", "CAGE"])
def test_an_instrument_the_record_does_not_score_is_refused_without_quoting_it(
    instrument: str,
) -> None:
    with pytest.raises(UnknownInstrument) as refused:
        score(instrument, [0] * 9)
    assert refused.value.code == "unknown_instrument"
    assert instrument not in str(refused.value)
    assert "PHQ-9" in str(refused.value)


@pytest.mark.parametrize("instrument", ["", None])
def test_a_missing_instrument_name_is_an_unknown_instrument(instrument: str | None) -> None:
    with pytest.raises(UnknownInstrument):
        score(instrument, [0] * 9)  # type: ignore[arg-type]  # as the edge might send it


def test_a_subscale_the_instrument_does_not_have_is_none() -> None:
    result = Score("PHQ-9", 3, "minimal", (("item9", 1),))
    assert result.subscale("item9") == 1
    assert result.subscale("use") is None


def test_a_score_is_immutable() -> None:
    result = score("GAD-7", [0] * 7)
    with pytest.raises(AttributeError):
        result.total = 21  # type: ignore[misc]  # frozen on purpose


# --- every instrument: the sheet must match the instrument ---------------------------------------


@pytest.mark.parametrize("instrument", sorted(VALID_SHEETS))
def test_a_sheet_one_answer_short_is_refused_saying_how_many_are_needed(instrument: str) -> None:
    sheet = VALID_SHEETS[instrument]
    message = refusal(instrument, sheet[:-1])
    assert message.startswith(f"{instrument} takes ")
    assert message.endswith(f" answers, got {len(sheet) - 1}")


@pytest.mark.parametrize("instrument", sorted(set(VALID_SHEETS) - {"C-SSRS-SCREEN"}))
def test_a_sheet_with_an_extra_answer_is_refused(instrument: str) -> None:
    sheet = list(VALID_SHEETS[instrument])
    message = refusal(instrument, [*sheet, 0])
    assert message == f"{instrument} takes {len(sheet)} answers, got {len(sheet) + 1}"


def test_a_phq9_sheet_of_8_answers_is_refused_as_such() -> None:
    assert refusal("PHQ-9", [0] * 8) == "PHQ-9 takes 9 answers, got 8"


@pytest.mark.parametrize("instrument", sorted(VALID_SHEETS))
@pytest.mark.parametrize("sheet", ["000000000", b"0000000", None, 7, {1: 0}])
def test_answers_that_are_not_a_list_of_items_are_refused(instrument: str, sheet: object) -> None:
    message = refusal(instrument, sheet)  # type: ignore[arg-type]  # as the edge might send it
    assert message == f"{instrument} answers must be a list of item answers"


def test_a_tuple_of_answers_scores_like_a_list() -> None:
    assert score("GAD-7", (1, 1, 1, 1, 1, 0, 0)) == score("GAD-7", [1, 1, 1, 1, 1, 0, 0])


@pytest.mark.parametrize("instrument", RATING_SCALES)
@pytest.mark.parametrize("answer", [True, False])
def test_a_yes_no_is_refused_where_a_rating_is_expected(instrument: str, answer: bool) -> None:
    sheet: list[object] = list(VALID_SHEETS[instrument])
    sheet[1] = answer
    message = refusal(instrument, sheet)
    assert message.startswith(f"{instrument} item 2 must be 0-")
    assert message.endswith(", not a yes/no")


@pytest.mark.parametrize(
    ("instrument", "top"), [("PHQ-9", 3), ("GAD-7", 3), ("AUDIT-C", 4), ("AUDIT", 4), ("BAM", 4)]
)
def test_a_rating_above_the_scale_is_refused_naming_the_item_but_not_the_answer(
    instrument: str, top: int
) -> None:
    sheet = list(VALID_SHEETS[instrument])
    sheet[2] = 97
    message = refusal(instrument, sheet)
    assert message == f"{instrument} item 3 must be 0-{top}"
    assert "97" not in message


@pytest.mark.parametrize("instrument", RATING_SCALES)
@pytest.mark.parametrize("answer", [-1, 2.0, "2", None])
def test_a_negative_or_non_integer_rating_is_refused(instrument: str, answer: object) -> None:
    if answer is None and instrument == "PHQ-9":
        return  # a PHQ-9 item may be left blank (test_a_phq9_with_a_blank_item_...)
    sheet: list[object] = list(VALID_SHEETS[instrument])
    sheet[0] = answer
    assert refusal(instrument, sheet).startswith(f"{instrument} item 1 must be 0-")


@pytest.mark.parametrize("instrument", YES_NO_SCREENS)
@pytest.mark.parametrize("answer", [2, -1, "yes", "no", "true", "1", "0", 1.0, None])
def test_a_yes_no_screen_takes_only_true_false_or_1_0(instrument: str, answer: object) -> None:
    if answer is None and instrument == "C-SSRS-SCREEN":
        return  # item 4 may be skipped after a no to item 2 (skip-logic tests below)
    sheet: list[object] = list(VALID_SHEETS[instrument])
    sheet[3] = answer
    assert refusal(instrument, sheet) == f"{instrument} item 4 must be yes/no (true/false or 1/0)"


# --- PHQ-9 (Kroenke et al., 2001) ----------------------------------------------------------------


def test_a_phq9_total_of_10_is_moderate_and_9_is_mild() -> None:
    assert score("PHQ-9", phq9(10)).band == "moderate"
    assert score("PHQ-9", phq9(9)).band == "mild"


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands_cut_at_5_10_15_and_20(total: int, band: str) -> None:
    given = phq9(total)
    result = score("PHQ-9", given)
    assert (result.instrument, result.total, result.band) == ("PHQ-9", total, band)


@pytest.mark.parametrize("item9", [0, 1, 2, 3])
def test_phq9_reports_item_9_on_its_own_whatever_the_total(item9: int) -> None:
    result = score("PHQ-9", phq9(item9, item9=item9))
    assert result.subscale("item9") == item9
    assert result.subscales == (("item9", item9), ("answered", 9))
    assert result.band == "minimal"


# --- GAD-7 (Spitzer et al., 2006) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands_cut_at_5_10_and_15(total: int, band: str) -> None:
    result = score("GAD-7", rated(7, total, 3))
    assert (result.total, result.band, result.subscales) == (total, band, ())


# --- AUDIT-C (Bush et al., 1998; Bradley et al., 2003) -------------------------------------------


def audit_c(total: int) -> list[int]:
    """An AUDIT-C sheet with the points on questions 2 and 3 first, then question 1."""
    q2, q3, q1 = rated(3, total, 4)
    return [q1, q2, q3]


@pytest.mark.parametrize(
    ("sex", "total", "band"),
    [
        ("male", 3, "negative"),
        ("male", 4, "positive"),
        ("female", 2, "negative"),
        ("female", 3, "positive"),
        (None, 2, "negative"),
        (None, 3, "positive"),
        ("unknown", 3, "positive"),
        ("male", 7, "positive"),
        ("male", 8, "high"),
        ("female", 12, "high"),
    ],
)
def test_audit_c_is_positive_from_4_for_men_and_3_for_women_bush_1998_bradley_2003(
    sex: str | None, total: int, band: str
) -> None:
    result = score("AUDIT-C", audit_c(total), sex_at_birth=sex)
    assert (result.total, result.band) == (total, band)


def test_audit_c_points_all_from_question_1_read_as_within_limits_va_scoring_sheet() -> None:
    assert score("AUDIT-C", [4, 0, 0], sex_at_birth="male").band == "within_limits_review"
    assert score("AUDIT-C", [3, 0, 0], sex_at_birth="female").band == "within_limits_review"
    assert score("AUDIT-C", [3, 1, 0], sex_at_birth="female").band == "positive"
    assert score("AUDIT-C", [2, 0, 0], sex_at_birth="female").band == "negative"


# --- AUDIT (WHO, Babor et al., 2001) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "zone"),
    [
        (0, "low_risk"),
        (7, "low_risk"),
        (8, "hazardous"),
        (15, "hazardous"),
        (16, "harmful"),
        (19, "harmful"),
        (20, "possible_dependence"),
        (32, "possible_dependence"),
    ],
)
def test_audit_zones_start_at_8_16_and_20(total: int, zone: str) -> None:
    result = score("AUDIT", audit(total))
    assert (result.total, result.band) == (total, zone)


def test_audit_scores_40_when_every_item_takes_its_top_answer() -> None:
    result = score("AUDIT", [4] * 10)
    assert (result.total, result.band) == (40, "possible_dependence")


@pytest.mark.parametrize("answer", [0, 2, 4])
def test_audit_items_9_and_10_take_0_2_or_4(answer: int) -> None:
    assert score("AUDIT", [0] * 8 + [answer, answer]).total == 2 * answer


@pytest.mark.parametrize("item", [9, 10])
@pytest.mark.parametrize("answer", [1, 3])
def test_audit_items_9_and_10_refuse_1_and_3(item: int, answer: int) -> None:
    sheet = [0] * 10
    sheet[item - 1] = answer
    assert refusal("AUDIT", sheet) == f"AUDIT item {item} must be 0, 2 or 4"


def test_audit_items_1_to_8_do_take_1_and_3() -> None:
    assert score("AUDIT", [1, 3, 1, 3, 1, 3, 1, 3, 0, 0]).total == 16


# --- DAST-10 (Skinner, 1982) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "band"),
    [
        (0, "none"),
        (1, "low"),
        (2, "low"),
        (3, "moderate"),
        (5, "moderate"),
        (6, "substantial"),
        (8, "substantial"),
        (9, "severe"),
        (10, "severe"),
    ],
)
def test_dast10_bands_cut_at_1_3_6_and_9(points: int, band: str) -> None:
    result = score("DAST-10", dast10(points))
    assert (result.total, result.band) == (points, band)


def test_dast10_scores_a_no_to_item_3_always_able_to_stop() -> None:
    all_no = [NO] * 10
    result = score("DAST-10", all_no)
    assert (result.total, result.band) == (1, "low")


def test_dast10_scores_nothing_for_a_yes_to_item_3() -> None:
    only_item_3 = [NO, NO, YES, NO, NO, NO, NO, NO, NO, NO]
    assert score("DAST-10", only_item_3).total == 0


def test_dast10_scores_every_other_item_on_a_yes() -> None:
    all_yes = [YES] * 10
    assert score("DAST-10", all_yes).total == 9


def test_dast10_takes_1_and_0_as_yes_and_no() -> None:
    as_numbers = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    as_bools = [YES, YES, NO, YES, NO, NO, NO, NO, NO, NO]
    assert score("DAST-10", as_numbers) == score("DAST-10", as_bools)
    assert score("DAST-10", as_numbers).total == 4


# --- C-SSRS screener (Columbia triage) -----------------------------------------------------------


def test_a_cssrs_screen_with_every_answer_no_is_none() -> None:
    result = score("C-SSRS-SCREEN", cssrs(within_3_months=NO))
    assert (result.total, result.band) == (0, "none")


@pytest.mark.parametrize("given", [cssrs(q1=YES), cssrs(q2=YES), cssrs(q1=YES, q2=YES)])
def test_a_wish_to_be_dead_or_nonspecific_thoughts_alone_are_low(given: list[bool]) -> None:
    assert score("C-SSRS-SCREEN", given).band == "low"


def test_thoughts_of_a_method_are_moderate() -> None:
    result = score("C-SSRS-SCREEN", cssrs(q1=YES, q2=YES, q3=YES))
    assert (result.total, result.band) == (3, "moderate")


def test_behavior_more_than_3_months_ago_is_moderate() -> None:
    result = score("C-SSRS-SCREEN", cssrs(q6=YES, within_3_months=NO))
    assert (result.band, result.subscale("behavior"), result.subscale("behavior_recent")) == (
        "moderate",
        1,
        0,
    )


@pytest.mark.parametrize("given", [cssrs(q2=YES, q4=YES), cssrs(q2=YES, q5=YES)])
def test_intent_with_or_without_a_plan_is_high(given: list[bool]) -> None:
    assert score("C-SSRS-SCREEN", given).band == "high"


def test_behavior_within_the_past_3_months_is_high() -> None:
    result = score("C-SSRS-SCREEN", cssrs(q6=YES, within_3_months=YES))
    assert (result.band, result.subscale("behavior_recent")) == ("high", 1)


def test_behavior_of_unknown_recency_is_taken_as_recent_and_high() -> None:
    result = score("C-SSRS-SCREEN", cssrs(q6=YES))
    assert (result.band, result.subscale("behavior_recent")) == ("high", 1)


def test_old_behavior_does_not_lower_a_high_ideation_answer() -> None:
    result = score("C-SSRS-SCREEN", cssrs(q2=YES, q5=YES, q6=YES, within_3_months=NO))
    assert result.band == "high"


def test_recent_behavior_without_behavior_is_refused() -> None:
    message = refusal("C-SSRS-SCREEN", cssrs(q6=NO, within_3_months=YES))
    assert message == "C-SSRS-SCREEN answer 7 (past 3 months) may be yes only if Q6 is yes"


@pytest.mark.parametrize("count", [5, 8])
def test_a_cssrs_screen_takes_6_or_7_answers(count: int) -> None:
    assert refusal("C-SSRS-SCREEN", [NO] * count) == (
        f"C-SSRS-SCREEN takes 6 or 7 answers, got {count}"
    )


def test_the_cssrs_total_counts_yes_to_q1_to_q6_but_not_the_recency_answer() -> None:
    result = score("C-SSRS-SCREEN", [1, 1, 1, 0, 1, 1, 1])
    assert result.total == 5
    assert result.subscales == (
        ("q3", 1),
        ("q4", 0),
        ("q5", 1),
        ("behavior", 1),
        ("behavior_recent", 1),
    )


# --- BAM, Likert scoring (Cacciola et al., 2013) -------------------------------------------------


@pytest.mark.parametrize("answer", [1, 2, 3])
def test_bam_item_14_income_is_a_yes_no_scored_0_or_4_bam_manual(answer: int) -> None:
    sheet = bam()
    sheet[13] = answer
    assert "item 14" in refusal("BAM", sheet)
    for allowed in (0, 4):
        sheet[13] = allowed
        assert score("BAM", sheet).subscale("protective") is not None


def test_bam_subscales_sum_their_own_items() -> None:
    given = bam(use=(0, 1, 0), risk=(4, 3, 2, 1, 0, 4), protective=(0, 1, 2, 3, 4, 0))
    result = score("BAM", given)
    assert result.subscales == (("use", 1), ("risk", 14), ("protective", 10))
    assert result.subscale("risk") == 14


def test_bam_total_is_use_plus_risk() -> None:
    result = score("BAM", bam(use=(1, 2, 3), risk=(1, 1, 1, 1, 1, 2)))
    assert (result.subscale("use"), result.subscale("risk"), result.total) == (6, 7, 13)


def test_bam_items_7_and_17_count_toward_no_subscale() -> None:
    assert score("BAM", bam(item7=4, item17=4)) == score("BAM", bam())


def test_a_stable_bam_has_no_use_risk_under_12_and_protective_over_12() -> None:
    result = score("BAM", bam(risk=(2, 2, 2, 2, 2, 1), protective=(3, 2, 2, 2, 4, 0)))
    assert (result.subscale("risk"), result.subscale("protective")) == (11, 13)
    assert result.band == "stable"


def test_any_bam_use_needs_attention() -> None:
    assert score("BAM", bam(use=(0, 0, 1))).band == "attention"


def test_a_bam_risk_of_12_needs_attention_and_11_does_not() -> None:
    assert score("BAM", bam(risk=(2, 2, 2, 2, 2, 2))).band == "attention"
    assert score("BAM", bam(risk=(2, 2, 2, 2, 2, 1))).band == "stable"


def test_a_bam_protective_of_12_needs_attention_and_13_does_not() -> None:
    assert score("BAM", bam(protective=(2, 2, 2, 2, 4, 0))).band == "attention"
    assert score("BAM", bam(protective=(3, 2, 2, 2, 4, 0))).band == "stable"


# --- scoring as published: blanks, WHO zone overrides, C-SSRS skip logic -------------------------


def test_a_phq9_with_a_blank_item_keeps_the_answered_items_and_is_marked_incomplete() -> None:
    result = score("PHQ-9", [1, None, 1, 1, 1, 1, 1, 1, 2])
    assert (result.total, result.band) == (9, "incomplete")  # never prorated
    assert result.subscale("item9") == 2
    assert result.subscale("answered") == 8


def test_a_phq9_with_item_9_blank_reports_no_item_9() -> None:
    result = score("PHQ-9", [1, 1, 1, 1, 1, 1, 1, 1, None])
    assert result.subscale("item9") is None
    assert result.band == "incomplete"


@pytest.mark.parametrize(
    ("item", "points", "zone"),
    [
        (4, 1, "low_risk"),
        (4, 2, "hazardous"),
        (5, 2, "hazardous"),
        (6, 3, "hazardous"),
    ],
)
def test_audit_2_or_more_on_questions_4_to_6_moves_to_the_next_zone_who_table_4(
    item: int, points: int, zone: str
) -> None:
    sheet = [0] * 10
    sheet[item - 1] = points
    assert score("AUDIT", sheet).band == zone


@pytest.mark.parametrize("item", [9, 10])
def test_audit_4_on_question_9_or_10_moves_to_the_next_zone_and_2_does_not(item: int) -> None:
    sheet = [2, 2, 0, 0, 0, 0, 0, 0, 0, 0]
    sheet[item - 1] = 4
    assert score("AUDIT", sheet).band == "harmful"  # total 8 is zone II, moved up to III
    sheet = [0] * 10
    sheet[item - 1] = 4
    assert score("AUDIT", sheet).band == "hazardous"
    sheet[item - 1] = 2
    assert score("AUDIT", sheet).band == "low_risk"


def test_audit_zone_iv_stays_iv_with_an_override() -> None:
    assert score("AUDIT", [4, 4, 4, 4, 4, 4, 0, 0, 0, 0]).band == "possible_dependence"


@pytest.mark.parametrize("item", [3, 4, 5])
def test_the_cssrs_screener_refuses_a_yes_its_skip_logic_excludes(item: int) -> None:
    sheet: list[bool | None] = [YES, NO, NO, NO, NO, NO]
    sheet[item - 1] = YES
    message = refusal("C-SSRS-SCREEN", sheet)
    assert f"item {item}" in message


def test_the_cssrs_screener_takes_q3_to_q5_skipped_after_a_no_to_q2() -> None:
    result = score("C-SSRS-SCREEN", [YES, NO, None, None, None, NO])
    assert result.band == "low"
    assert "item 6" in refusal("C-SSRS-SCREEN", [YES, NO, None, None, None, None])
    assert "items 3-5" in refusal("C-SSRS-SCREEN", [YES, YES, None, None, None, NO])


# --- whole answer sheets scored as the published manuals score them ------------------------------
# Each vector is a complete sheet, item by item, with the total and band the manual's own scoring
# rules give by hand (not by this code): a regression here is a departure from the manual. The
# C-SSRS screener publishes a triage, not a total (None: only the band is the manual's).

MANUAL_VECTORS = [
    pytest.param(
        "PHQ-9",
        [3, 3, 2, 2, 1, 1, 0, 0, 0],
        None,
        12,
        "moderate",
        id="PHQ-9 Kroenke 2001: items 0-3 summed, 10-14 moderate",
    ),
    pytest.param(
        "PHQ-9",
        [2, 2, 2, 2, 2, 2, 2, 1, 0],
        None,
        15,
        "moderately_severe",
        id="PHQ-9 Kroenke 2001: 15 starts moderately severe",
    ),
    pytest.param(
        "GAD-7",
        [1, 2, 1, 2, 1, 2, 1],
        None,
        10,
        "moderate",
        id="GAD-7 Spitzer 2006: 10 is the cut point and starts moderate",
    ),
    pytest.param(
        "GAD-7",
        [3, 3, 3, 2, 2, 1, 1],
        None,
        15,
        "severe",
        id="GAD-7 Spitzer 2006: 15 starts severe",
    ),
    pytest.param(
        "AUDIT-C",
        [2, 1, 0],
        "female",
        3,
        "positive",
        id="AUDIT-C Bradley 2007: a woman at 3 screens positive",
    ),
    pytest.param(
        "AUDIT-C",
        [2, 1, 0],
        "male",
        3,
        "negative",
        id="AUDIT-C Bush 1998 / Bradley 2007: a man at 3 does not",
    ),
    pytest.param(
        "AUDIT-C",
        [2, 1, 1],
        "male",
        4,
        "positive",
        id="AUDIT-C Bush 1998: a man at 4 screens positive",
    ),
    pytest.param(
        "AUDIT",
        [1, 1, 1, 0, 0, 0, 1, 1, 0, 2],
        None,
        7,
        "low_risk",
        id="AUDIT WHO Babor 2001: 7 is zone I (Q10 = 2 moves nothing)",
    ),
    pytest.param(
        "AUDIT",
        [2, 2, 2, 1, 1, 1, 1, 2, 2, 2],
        None,
        16,
        "harmful",
        id="AUDIT WHO Babor 2001: 16 is zone III",
    ),
    pytest.param(
        "AUDIT",
        [1, 1, 0, 2, 0, 0, 0, 0, 0, 0],
        None,
        4,
        "hazardous",
        id="AUDIT WHO Babor 2001 Table 4: Q4 = 2 gives the next zone",
    ),
    pytest.param(
        "DAST-10",
        [YES, YES, NO, YES, NO, NO, NO, NO, NO, NO],
        None,
        4,
        "moderate",
        id="DAST-10 Skinner 1982: yes scores 1, item 3 reversed; 3-5 moderate",
    ),
    pytest.param(
        "C-SSRS-SCREEN",
        [YES, YES, YES, NO, NO, NO],
        None,
        None,
        "moderate",
        id="C-SSRS screener Posner 2011 / Columbia triage: a method (Q3) is moderate",
    ),
    pytest.param(
        "C-SSRS-SCREEN",
        [YES, YES, NO, NO, YES, NO],
        None,
        None,
        "high",
        id="C-SSRS screener Columbia triage: a plan with intent (Q5) is high",
    ),
    pytest.param(
        "C-SSRS-SCREEN",
        [YES, NO, None, None, None, YES, NO],
        None,
        None,
        "moderate",
        id="C-SSRS lifetime/recent screen: behavior, not in the past 3 months, is moderate",
    ),
]


@pytest.mark.parametrize(("instrument", "sheet", "sex", "total", "band"), MANUAL_VECTORS)
def test_a_whole_sheet_scores_as_its_published_manual_scores_it(
    instrument: str, sheet: list[int | None], sex: str | None, total: int | None, band: str
) -> None:
    result = score(instrument, sheet, sex_at_birth=sex)
    assert result.band == band
    if total is not None:
        assert result.total == total


def test_a_bam_sheet_scores_its_three_composites_as_the_va_bam_manual_cacciola_2013() -> None:
    """Likert BAM: Use = items 4+5+6, Risk = 1+2+3+8+11+15, Protective = 9+10+12+13+14+16;
    items 7 and 17 in none; attention at Use >= 1, Risk >= 12 or Protective <= 12."""
    #        1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17
    sheet = [2, 2, 2, 0, 0, 0, 3, 2, 4, 4, 2, 4, 4, 4, 2, 4, 4]
    result = score("BAM", sheet)
    assert result.subscales == (("use", 0), ("risk", 12), ("protective", 24))
    assert result.band == "attention"  # abstinent and well supported, but Risk reaches 12
    sheet[10] = 1  # risky situations: 2 -> 1, Risk 11
    assert score("BAM", sheet).band == "stable"
