using System.IO.Compression;
using Microsoft.ML;
using MlPipelines.Pipelines.Transforms;

namespace MlPipelines.Fuzz.Targets;

/// <summary>
/// A saved pipeline (<see cref="LlamaPipelineModel.Save"/>'s zip): the input is its manifest, <c>mlpipe-pipeline.json</c>
/// (stages, their options, the model files they record), zipped with the rest of a real saved pipeline. Mutating the
/// zip's compressed bytes would mostly exercise the BCL's inflater and CRC check; the manifest is what this library parses.
/// </summary>
public sealed class PipelineTarget : FuzzTarget
{
    private const string ManifestEntry = "mlpipe-pipeline.json";
    private readonly MLContext _ml = new(seed: 1);
    private List<(string Name, byte[] Bytes)> _otherEntries = [];

    public override string Name => "pipeline";
    public override string EntryPoint => "LlamaPipelineModel.Load(mlContext, path)";
    public override bool IsJson => true;

    // A model file the pipeline records may be missing (a FileNotFoundException, as documented).
    public override IReadOnlyList<Type> AllowedExceptions { get; } =
        [typeof(InvalidDataException), typeof(NotSupportedException), typeof(FileNotFoundException)];

    // Each input is a zip of ML.NET's entries and the manifest: a few hundred kilobytes of work per input is expected.
    public override int AllocationPerInputByte => 64;

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds)
    {
        using ZipArchive zip = ZipFile.OpenRead(seeds.SavedPipeline);
        return [Read(zip.GetEntry(ManifestEntry)!)];
    }

    public override void Prepare(ScratchDirectory scratch, SeedFiles seeds)
    {
        using ZipArchive zip = ZipFile.OpenRead(seeds.SavedPipeline);
        _otherEntries = [.. zip.Entries.Where(e => e.FullName != ManifestEntry).Select(e => (e.FullName, Read(e)))];
    }

    public override void Run(byte[] input, ScratchDirectory scratch)
    {
        string path = scratch.File("pipeline.zip");
        using (var file = new FileStream(path, FileMode.Create))
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
        {
            foreach (var (name, bytes) in _otherEntries.Prepend((ManifestEntry, input)))
            {
                using Stream entry = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                entry.Write(bytes);
            }
        }
        LlamaPipelineModel.Load(_ml, path, out _);
    }

    private static byte[] Read(ZipArchiveEntry entry)
    {
        using Stream s = entry.Open();
        using var buffer = new MemoryStream();
        s.CopyTo(buffer);
        return buffer.ToArray();
    }
}
