"""The languages dubkit knows, and the codes each family of backends uses for them.

The table holds every language of Whisper's multilingual models that has an ISO 639-1 code (so any
of them can be transcribed, and translated into English by Whisper), and the others NLLB-200 and
Apertium are used for here.

dubkit speaks ISO 639-1 codes (``en``, ``es``) at its public surface; backends map them to their own
codes (NLLB's ``spa_Latn``, Apertium's ``spa``, espeak-ng's ``es``) through this table.
"""

from __future__ import annotations

import attrs

from dubkit.errors import UnknownLanguageError

__all__ = ["LANGUAGES", "Language", "get_language", "language_codes"]


@attrs.frozen(slots=True)
class Language:
    """A language and its codes.

    Attributes:
        code: ISO 639-1 (``es``).
        name: English name.
        iso639_3: ISO 639-3 (``spa``), used by Apertium and MMS.
        nllb: NLLB-200 / FLORES-200 code (``spa_Latn``); empty when NLLB-200 does not have the language.
    """

    code: str
    name: str
    iso639_3: str
    nllb: str


LANGUAGES: tuple[Language, ...] = (
    Language("af", "Afrikaans", "afr", "afr_Latn"),
    Language("am", "Amharic", "amh", "amh_Ethi"),
    Language("ar", "Arabic", "ara", "arb_Arab"),
    Language("as", "Assamese", "asm", "asm_Beng"),
    Language("az", "Azerbaijani", "aze", "azj_Latn"),
    Language("ba", "Bashkir", "bak", "bak_Cyrl"),
    Language("be", "Belarusian", "bel", "bel_Cyrl"),
    Language("bg", "Bulgarian", "bul", "bul_Cyrl"),
    Language("bn", "Bengali", "ben", "ben_Beng"),
    Language("bo", "Tibetan", "bod", "bod_Tibt"),
    Language("br", "Breton", "bre", ""),
    Language("bs", "Bosnian", "bos", "bos_Latn"),
    Language("ca", "Catalan", "cat", "cat_Latn"),
    Language("cs", "Czech", "ces", "ces_Latn"),
    Language("cy", "Welsh", "cym", "cym_Latn"),
    Language("da", "Danish", "dan", "dan_Latn"),
    Language("de", "German", "deu", "deu_Latn"),
    Language("el", "Greek", "ell", "ell_Grek"),
    Language("en", "English", "eng", "eng_Latn"),
    Language("eo", "Esperanto", "epo", "epo_Latn"),
    Language("es", "Spanish", "spa", "spa_Latn"),
    Language("et", "Estonian", "est", "est_Latn"),
    Language("eu", "Basque", "eus", "eus_Latn"),
    Language("fa", "Persian", "fas", "pes_Arab"),
    Language("fi", "Finnish", "fin", "fin_Latn"),
    Language("fo", "Faroese", "fao", "fao_Latn"),
    Language("fr", "French", "fra", "fra_Latn"),
    Language("ga", "Irish", "gle", "gle_Latn"),
    Language("gl", "Galician", "glg", "glg_Latn"),
    Language("gu", "Gujarati", "guj", "guj_Gujr"),
    Language("ha", "Hausa", "hau", "hau_Latn"),
    Language("he", "Hebrew", "heb", "heb_Hebr"),
    Language("hi", "Hindi", "hin", "hin_Deva"),
    Language("hr", "Croatian", "hrv", "hrv_Latn"),
    Language("ht", "Haitian Creole", "hat", "hat_Latn"),
    Language("hu", "Hungarian", "hun", "hun_Latn"),
    Language("hy", "Armenian", "hye", "hye_Armn"),
    Language("id", "Indonesian", "ind", "ind_Latn"),
    Language("is", "Icelandic", "isl", "isl_Latn"),
    Language("it", "Italian", "ita", "ita_Latn"),
    Language("ja", "Japanese", "jpn", "jpn_Jpan"),
    Language("jv", "Javanese", "jav", "jav_Latn"),
    Language("ka", "Georgian", "kat", "kat_Geor"),
    Language("kk", "Kazakh", "kaz", "kaz_Cyrl"),
    Language("km", "Khmer", "khm", "khm_Khmr"),
    Language("kn", "Kannada", "kan", "kan_Knda"),
    Language("ko", "Korean", "kor", "kor_Hang"),
    Language("la", "Latin", "lat", ""),
    Language("lb", "Luxembourgish", "ltz", "ltz_Latn"),
    Language("ln", "Lingala", "lin", "lin_Latn"),
    Language("lo", "Lao", "lao", "lao_Laoo"),
    Language("lt", "Lithuanian", "lit", "lit_Latn"),
    Language("lv", "Latvian", "lav", "lvs_Latn"),
    Language("mg", "Malagasy", "mlg", "plt_Latn"),
    Language("mi", "Maori", "mri", "mri_Latn"),
    Language("mk", "Macedonian", "mkd", "mkd_Cyrl"),
    Language("ml", "Malayalam", "mal", "mal_Mlym"),
    Language("mn", "Mongolian", "mon", "khk_Cyrl"),
    Language("mr", "Marathi", "mar", "mar_Deva"),
    Language("ms", "Malay", "msa", "zsm_Latn"),
    Language("mt", "Maltese", "mlt", "mlt_Latn"),
    Language("my", "Burmese", "mya", "mya_Mymr"),
    Language("nb", "Norwegian Bokmål", "nob", "nob_Latn"),
    Language("ne", "Nepali", "nep", "npi_Deva"),
    Language("nl", "Dutch", "nld", "nld_Latn"),
    Language("nn", "Norwegian Nynorsk", "nno", "nno_Latn"),
    Language("oc", "Occitan", "oci", "oci_Latn"),
    Language("pa", "Punjabi", "pan", "pan_Guru"),
    Language("pl", "Polish", "pol", "pol_Latn"),
    Language("ps", "Pashto", "pus", "pbt_Arab"),
    Language("pt", "Portuguese", "por", "por_Latn"),
    Language("ro", "Romanian", "ron", "ron_Latn"),
    Language("ru", "Russian", "rus", "rus_Cyrl"),
    Language("sa", "Sanskrit", "san", "san_Deva"),
    Language("sd", "Sindhi", "snd", "snd_Arab"),
    Language("si", "Sinhala", "sin", "sin_Sinh"),
    Language("sk", "Slovak", "slk", "slk_Latn"),
    Language("sl", "Slovenian", "slv", "slv_Latn"),
    Language("sn", "Shona", "sna", "sna_Latn"),
    Language("so", "Somali", "som", "som_Latn"),
    Language("sq", "Albanian", "sqi", "als_Latn"),
    Language("sr", "Serbian", "srp", "srp_Cyrl"),
    Language("su", "Sundanese", "sun", "sun_Latn"),
    Language("sv", "Swedish", "swe", "swe_Latn"),
    Language("sw", "Swahili", "swa", "swh_Latn"),
    Language("ta", "Tamil", "tam", "tam_Taml"),
    Language("te", "Telugu", "tel", "tel_Telu"),
    Language("tg", "Tajik", "tgk", "tgk_Cyrl"),
    Language("th", "Thai", "tha", "tha_Thai"),
    Language("tk", "Turkmen", "tuk", "tuk_Latn"),
    Language("tl", "Tagalog", "tgl", "tgl_Latn"),
    Language("tr", "Turkish", "tur", "tur_Latn"),
    Language("tt", "Tatar", "tat", "tat_Cyrl"),
    Language("uk", "Ukrainian", "ukr", "ukr_Cyrl"),
    Language("ur", "Urdu", "urd", "urd_Arab"),
    Language("uz", "Uzbek", "uzb", "uzn_Latn"),
    Language("vi", "Vietnamese", "vie", "vie_Latn"),
    Language("yi", "Yiddish", "yid", "ydd_Hebr"),
    Language("yo", "Yoruba", "yor", "yor_Latn"),
    Language("zh", "Chinese", "zho", "zho_Hans"),
)


def language_codes() -> tuple[str, ...]:
    """Every ISO 639-1 code dubkit knows, sorted."""
    return tuple(sorted(lang.code for lang in LANGUAGES))


def get_language(code: str) -> Language:
    """Look a language up by ISO 639-1 or 639-3 code (case-insensitive).

    Raises:
        UnknownLanguageError: the code is not in dubkit's table; the error lists the known codes.
    """
    wanted = code.strip().lower()
    for lang in LANGUAGES:
        if wanted in (lang.code, lang.iso639_3):
            return lang
    raise UnknownLanguageError(code, language_codes())
