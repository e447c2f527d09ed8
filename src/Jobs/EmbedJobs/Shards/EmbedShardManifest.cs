using System.Text.Json;
using System.Text.Json.Serialization;
using MlPipelines.ManagedEngine.IO;

namespace MlPipelines.Jobs.EmbedJobs.Shards;

/// <summary>
/// <c>manifest.json</c> in a distributed job's parts folder, written when the last shard is done: the parts in input
/// order with their rows, sizes and SHA-256, and what the merged file needs (format, dimension). It is what
/// <see cref="EmbedShardMerger"/> reads, so a merge needs nothing but the folder.
/// </summary>
public sealed record EmbedShardManifest(int Version, EmbedOutputFormat Format, int Dimension, long Rows, IReadOnlyList<EmbedShardPart> Parts)
{
    /// <summary>The manifest's file name in the parts folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>The layout this code writes and reads.</summary>
    public const int CurrentVersion = 1;

    // A manifest lists at most EmbedShard.MaxShards parts of ~150 bytes each.
    private const long MaxBytes = 256L << 20;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The manifest of finished <paramref name="parts"/> (sorted into shard order).</summary>
    public static EmbedShardManifest Create(EmbedOutputFormat format, int dimension, IEnumerable<EmbedShardPart> parts)
    {
        EmbedShardPart[] ordered = parts.OrderBy(p => p.Shard).ToArray();
        return new EmbedShardManifest(CurrentVersion, format, dimension, ordered.Sum(p => p.Rows), ordered);
    }

    /// <summary>Writes the manifest into <paramref name="partsDirectory"/>, atomically (the same manifest twice gives the same bytes).</summary>
    public void Save(string partsDirectory) =>
        AtomicFileWriter.Write(Path.Combine(partsDirectory, FileName), overwrite: true, stream => JsonSerializer.Serialize(stream, this, Json));

    /// <summary>Reads and checks the manifest in <paramref name="partsDirectory"/>.</summary>
    /// <exception cref="FileNotFoundException">There is no manifest: the job has not finished.</exception>
    /// <exception cref="InvalidDataException">The manifest is malformed or its parts do not cover rows 0… in order.</exception>
    public static EmbedShardManifest Load(string partsDirectory)
    {
        string path = Path.Combine(partsDirectory, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} not found: the job has not finished (or {partsDirectory} is not a distributed embed job's parts folder).", path);
        if (new FileInfo(path).Length > MaxBytes)
            throw new InvalidDataException($"{path}: {new FileInfo(path).Length:N0} bytes is too large for a manifest (at most {MaxBytes:N0}).");
        EmbedShardManifest? manifest;
        try
        {
            using FileStream stream = File.OpenRead(path);
            manifest = JsonSerializer.Deserialize<EmbedShardManifest>(stream, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid manifest ({e.Message}).", e);
        }
        if (manifest is null || manifest.Parts is null)
            throw new InvalidDataException($"{path}: not a valid manifest (expected an object with 'parts').");
        manifest.Check(path);
        return manifest;
    }

    private void Check(string path)
    {
        if (Version != CurrentVersion)
            throw new InvalidDataException($"{path}: manifest version {Version}; this version of MlPipelines reads version {CurrentVersion}.");
        if (!Enum.IsDefined(Format) || Dimension < 1)
            throw new InvalidDataException($"{path}: format {Format} and dimension {Dimension}; expected a known format and a positive dimension.");
        long next = 0;
        for (int i = 0; i < Parts.Count; i++)
        {
            EmbedShardPart p = Parts[i];
            if (p is null || p.Shard != i || p.FirstRow != next || p.Rows < 0 || p.Bytes < 0 || p.Sha256 is not { Length: 64 }
                || p.File != EmbedShardWriter.PartName(i, Format))
                throw new InvalidDataException(
                    $"{path}: part {i} is {(p is null ? "null" : $"shard {p.Shard}, {p.File}, rows {p.FirstRow}+{p.Rows}")}; expected shard {i}, {EmbedShardWriter.PartName(i, Format)}, starting at row {next}, with its size and SHA-256.");
            next += p.Rows;
        }
        if (next != Rows)
            throw new InvalidDataException($"{path}: the parts hold {next:N0} rows but the manifest says {Rows:N0}.");
    }
}
