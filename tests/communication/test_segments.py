"""The SMS segment counter: GSM-7 160/153 with two-septet extension characters, UCS-2 70/67 in
UTF-16 code units, and no two-unit character split across parts."""

import pytest

from communication.services.sms import GSM7_BASIC, GSM7_EXTENSION, Segmentation, sms_segments

EMOJI = "😀"  # outside the BMP: a surrogate pair, two UTF-16 code units

TABLE = [
    # body, encoding, units, segments
    ("a", "GSM-7", 1, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("a" * 1600, "GSM-7", 1600, 11),
    ("Hej! Välkommen till årsmötet på Östermalm, kl. 18:00.", "GSM-7", 53, 1),
    ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ", "GSM-7", 31, 1),
    ("€", "GSM-7", 2, 1),
    ("^{}\\[~]|€", "GSM-7", 18, 1),
    ("\f", "GSM-7", 2, 1),
    ("a" * 158 + "€", "GSM-7", 160, 1),
    ("a" * 159 + "€", "GSM-7", 161, 2),
    ("€" * 80, "GSM-7", 160, 1),
    ("€" * 81, "GSM-7", 162, 2),
    # 152 septets fill the first part; the escape pair cannot straddle, so it opens the second.
    ("a" * 152 + "€" + "a" * 151, "GSM-7", 305, 2),
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
    ("Ça va", "GSM-7", 5, 1),
    ("ça va", "UCS-2", 5, 1),
    ("ê", "UCS-2", 1, 1),
    ("ł" * 70, "UCS-2", 70, 1),
    ("ł" * 71, "UCS-2", 71, 2),
    ("ł" * 134, "UCS-2", 134, 2),
    ("ł" * 135, "UCS-2", 135, 3),
    ("Привет", "UCS-2", 6, 1),
    ("مرحبا بكم", "UCS-2", 9, 1),
    ("a" * 159 + "ł", "UCS-2", 160, 3),  # one non-GSM character turns the whole body UCS-2
    (EMOJI, "UCS-2", 2, 1),
    (EMOJI * 35, "UCS-2", 70, 1),
    (EMOJI * 36, "UCS-2", 72, 2),  # 33 pairs fill 66 units; the 34th cannot split at 67
    ("a" + EMOJI * 34 + "a", "UCS-2", 70, 1),
    ("a" * 66 + EMOJI + "a" * 65, "UCS-2", 133, 2),
    ("a" * 66 + EMOJI + "a" * 66, "UCS-2", 134, 3),
    ("Grattis 🎉 på födelsedagen €", "UCS-2", 28, 1),
    ("€ and an emoji 👍", "UCS-2", 17, 1),
    ("ł" * 1600, "UCS-2", 1600, 24),
]


@pytest.mark.parametrize(
    "body, encoding, units, segments",
    TABLE,
    ids=[f"{len(row[0])}ch-{row[1]}-{row[3]}seg" for row in TABLE],
)
def test_segments(body, encoding, units, segments):
    assert sms_segments(body) == Segmentation(encoding=encoding, units=units, segments=segments)


def test_every_basic_gsm_character_is_one_septet_and_every_extension_two():
    basic = "".join(sorted(GSM7_BASIC))
    extension = "".join(sorted(GSM7_EXTENSION))

    assert len(GSM7_BASIC) == 127  # the 128 codes of the table minus the escape; LF and CR included
    assert len(GSM7_EXTENSION) == 10
    assert sms_segments(basic) == Segmentation(encoding="GSM-7", units=127, segments=1)
    assert sms_segments(extension) == Segmentation(encoding="GSM-7", units=20, segments=1)
