using System.Security.Cryptography;
using System.Text;

namespace MlPipelines.Jobs.EmbedJobs.Shards;

/// <summary>
/// Merges a finished distributed job's parts into the single file a one-process <see cref="EmbedJob"/> would have
/// written, byte for byte: CSV gets its header line and the parts' rows, JSON Lines the parts' lines, Parquet the rows
/// regrouped into row groups of the one-process size. Every part is checked against the manifest's size and SHA-256
/// first, so a torn or foreign part is refused rather than merged. The output appears whole or not at all.
/// </summary>
public static class EmbedShardMerger
{
    /// <summary>Merges the parts listed in <paramref name="partsDirectory"/>'s manifest into <paramref name="outputPath"/>.</summary>
    /// <returns>The rows written.</returns>
    /// <exception cref="FileNotFoundException">No manifest (the job has not finished) or a part is missing.</exception>
    /// <exception cref="InvalidDataException">A part's size or hash differs from the manifest's.</exception>
    /// <exception cref="IOException">The output exists and <paramref name="overwrite"/> is false.</exception>
    public static async Task<long> MergeAsync(string partsDirectory, string outputPath, bool overwrite = false, CancellationToken cancellationToken = default)
    {
        EmbedShardManifest manifest = EmbedShardManifest.Load(partsDirectory);
        if (!overwrite && File.Exists(outputPath))
            throw new IOException($"{outputPath} already exists; pass overwrite: true to replace it.");
        string[] parts = manifest.Parts.Select(p => Path.Combine(partsDirectory, p.File)).ToArray();
        for (int i = 0; i < parts.Length; i++)
            await VerifyAsync(parts[i], manifest.Parts[i], cancellationToken);

        await ParquetEmbeddingSink.WriteAtomicallyAsync(outputPath, async stream =>
        {
            switch (manifest.Format)
            {
                case EmbedOutputFormat.Parquet:
                    await ParquetEmbeddingFile.MergeAsync(parts, stream, manifest.Dimension);
                    break;
                case EmbedOutputFormat.Csv:
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(CsvEmbeddingSink.Header(manifest.Dimension)), cancellationToken);
                    await ConcatenateAsync(parts, stream, cancellationToken);
                    break;
                default:
                    await ConcatenateAsync(parts, stream, cancellationToken);
                    break;
            }
        });
        return manifest.Rows;
    }

    private static async Task ConcatenateAsync(IEnumerable<string> parts, Stream output, CancellationToken ct)
    {
        foreach (string part in parts)
        {
            await using var input = new FileStream(part, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            await input.CopyToAsync(output, ct);
        }
    }

    private static async Task VerifyAsync(string path, EmbedShardPart part, CancellationToken ct)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} is missing: the manifest lists it as shard {part.Shard} (rows {part.FirstRow:N0}+{part.Rows:N0}).", path);
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        string sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
        if (stream.Length != part.Bytes || sha256 != part.Sha256)
            throw new InvalidDataException(
                $"{path} is {stream.Length:N0} bytes with SHA-256 {sha256}; the manifest records {part.Bytes:N0} bytes with {part.Sha256}: the part was changed or torn.");
    }
}
