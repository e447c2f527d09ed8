using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.ManagedEngine.Tests.WeightStorage;

/// <summary>Random but valid rows of each block format: random bytes, with every fp16 field set to a finite scale.</summary>
internal static class RandomBlocks
{
    public static readonly WeightFormat[] BlockFormats =
        [WeightFormat.Q8_0, WeightFormat.Q4_0, WeightFormat.Q4_1, WeightFormat.Q5_0, WeightFormat.Q5_1, WeightFormat.Q4_K, WeightFormat.Q5_K, WeightFormat.Q6_K];

    /// <summary><paramref name="rows"/> rows of <paramref name="cols"/> values.</summary>
    public static byte[] Rows(WeightFormat format, int rows, int cols, int seed)
    {
        var random = new Random(seed);
        int blockBytes = WeightFormats.BlockBytes(format), blocks = rows * (cols / WeightFormats.BlockElements(format));
        var data = new byte[blocks * blockBytes];
        random.NextBytes(data);
        for (int b = 0; b < blocks; b++)
            foreach (int offset in ScaleOffsets(format))
                BitConverter.TryWriteBytes(data.AsSpan(b * blockBytes + offset, 2),
                    BitConverter.HalfToUInt16Bits((Half)((random.NextDouble() - 0.3) * 0.02)));
        return data;
    }

    /// <summary>Where each format keeps its fp16 fields inside a block.</summary>
    private static int[] ScaleOffsets(WeightFormat format) => format switch
    {
        WeightFormat.Q4_1 or WeightFormat.Q5_1 or WeightFormat.Q4_K or WeightFormat.Q5_K => [0, 2],
        WeightFormat.Q6_K => [208],
        _ => [0],
    };
}
