namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

/// <summary>Texts beyond llama.cpp's suite that stress pre-tokenization: scripts, digits, contractions, odd spaces.</summary>
internal static class ExtraTexts
{
    public static readonly string[] All =
    [
        "The quick brown fox jumps over the lazy dog.",
        "I'M SURE YOU'LL SEE IT'S THEIR'S, WE'VE HE'D",
        "1234567890 12,345.678 3.14159 ١٢٣٤٥ ⅠⅡⅢ ²³",
        "def f(x):\n\treturn x ** 2  # square\r\n\r\n",
        "   leading and trailing   \n\n\n   ",
        "naïve café über straße ÆØÅ",
        "Привет, мир! Γειά σου Κόσμε",
        "日本語のテキストと中文文本，한국어 텍스트。",
        "emoji 🦙🔥👍🏽 and flags 🇫🇷🇯🇵 and zwj 👨‍👩‍👧‍👦",
        "math 𝐀𝐁𝐂 𝟘𝟙𝟚 and cuneiform 𒀀𒀁 and 𠀀𠀁",
        "non\u00A0breaking\u2009thin\u3000ideographic\u2028line\u0085next",
        "<|begin_of_text|> written out, <s> and </s> too",
        "https://example.com/path?query=1&b=2#frag",
        "'s 's 'S 'll 'LL 'Ll ''''",
        "\u0627\u0644\u0639\u0631\u0628\u064A\u0629 \u05E2\u05D1\u05E8\u05D9\u05EA \u0939\u093F\u0928\u094D\u0926\u0940",
        "",
        " ",
        "a",
    ];
}
