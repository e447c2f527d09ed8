namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// The two 12-byte packings of 6-bit sub-block numbers the k-quants use.
/// </summary>
/// <remarks>
/// <para><b>Eight scale/min pairs</b> (<see cref="Q4_K"/>, <see cref="Q5_K"/>): sub-block <c>j</c> has a 6-bit
/// scale <c>s_j</c> and a 6-bit minimum <c>m_j</c>. Bytes 0–3 hold <c>s_0…s_3</c> and bytes 4–7 hold
/// <c>m_0…m_3</c> in their low six bits. The last four pairs are split: byte <c>8 + k</c> holds the low nibbles
/// of <c>s_{4+k}</c> (bits 0–3) and <c>m_{4+k}</c> (bits 4–7), and their top two bits sit in the otherwise
/// unused bits 6–7 of byte <c>k</c> (for <c>s_{4+k}</c>) and byte <c>4 + k</c> (for <c>m_{4+k}</c>).</para>
/// <para><b>Sixteen scales</b> (<see cref="Q3_K"/>): scale <c>j</c>'s low nibble is the low half of byte <c>j</c>
/// for <c>j &lt; 8</c> and the high half of byte <c>j − 8</c> otherwise; its top two bits are bits
/// <c>2·(j / 4)</c> and up of byte <c>8 + j % 4</c>.</para>
/// </remarks>
internal static class KScales
{
    /// <summary>Reads scale and minimum <paramref name="j"/> (0…7) of the eight-pair packing.</summary>
    public static (int Scale, int Min) ReadPair(ReadOnlySpan<byte> packed, int j)
    {
        if (j < 4)
            return (packed[j] & 63, packed[j + 4] & 63);
        return ((packed[j + 4] & 0xF) | (packed[j - 4] >> 6) << 4, (packed[j + 4] >> 4) | (packed[j] >> 6) << 4);
    }

    /// <summary>Writes the eight-pair packing of <paramref name="scales"/> and <paramref name="mins"/> (each 0…63).</summary>
    public static void WritePairs(ReadOnlySpan<byte> scales, ReadOnlySpan<byte> mins, Span<byte> packed)
    {
        for (int j = 0; j < 4; j++)
        {
            packed[j] = (byte)(scales[j] | (scales[j + 4] >> 4) << 6);
            packed[j + 4] = (byte)(mins[j] | (mins[j + 4] >> 4) << 6);
            packed[j + 8] = (byte)((scales[j + 4] & 0xF) | (mins[j + 4] & 0xF) << 4);
        }
    }

    /// <summary>Reads 6-bit scale <paramref name="j"/> (0…15) of the sixteen-scale packing.</summary>
    public static int ReadSixteen(ReadOnlySpan<byte> packed, int j)
    {
        int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
        return low | ((packed[8 + j % 4] >> (2 * (j / 4))) & 3) << 4;
    }

    /// <summary>Writes the sixteen-scale packing of <paramref name="scales"/> (each 0…63).</summary>
    public static void WriteSixteen(ReadOnlySpan<byte> scales, Span<byte> packed)
    {
        packed[..12].Clear();
        for (int j = 0; j < 16; j++)
        {
            packed[j % 8] |= (byte)((scales[j] & 0xF) << (j < 8 ? 0 : 4));
            packed[8 + j % 4] |= (byte)((scales[j] >> 4) << (2 * (j / 4)));
        }
    }
}
