namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>
/// GPT-2's reversible byte ↔ character map (<c>bytes_to_unicode</c>): printable Latin-1 bytes stand for
/// themselves, the other 68 bytes for U+0100 onwards in byte order, so every byte string is a string
/// of visible characters ("Ġ" is a space, "Ċ" a newline) and BPE can work on text.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    /// <summary>The character that stands for <paramref name="b"/>.</summary>
    public static char Char(byte b) => ByteToChar[b];

    /// <summary>The byte <paramref name="c"/> stands for, or -1 if it is not one of the 256 characters.</summary>
    public static int Byte(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    /// <summary>Maps UTF-8 bytes to their characters.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (chars, data) =>
        {
            for (int i = 0; i < data.Length; i++) chars[i] = ByteToChar[data[i]];
        });
    }

    /// <summary>
    /// The bytes a token's text stands for, as the ByteLevel decoder computes them: if any character is
    /// outside the alphabet (an added token such as "中"), the whole token stands for its own UTF-8.
    /// </summary>
    public static byte[] Decode(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            int b = Byte(token[i]);
            if (b < 0) return System.Text.Encoding.UTF8.GetBytes(token);
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[324];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (short)b;
        return map;
    }
}
