using MlPipelines.Exporter;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Fuzz.Targets;

/// <summary>
/// An export directory's <c>mlpipe.json</c> manifest, read by <see cref="OnnxLanguageModel.Load"/> (the model's
/// configuration, tokenizer, profile). The directory holds no <c>model.onnx</c>: feeding mutated graphs to ONNX
/// Runtime's native loader is slow and fuzzed upstream, so an input that gets past the manifest ends in the
/// FileNotFoundException for the missing graph, which counts as loaded. Another tool's export is read through its
/// config.json, which the hf-config target covers.
/// </summary>
public sealed class OnnxExportTarget : FuzzTarget
{
    public override int CiInputs => 10000;

    public override string Name => "onnx-manifest";
    public override string EntryPoint => "OnnxLanguageModel.Load(directory) up to the graph";
    public override bool IsJson => true;

    public override IReadOnlyList<Type> AllowedExceptions { get; } =
        [typeof(InvalidDataException), typeof(NotSupportedException), typeof(FileNotFoundException)];

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
    [
        System.Text.Encoding.UTF8.GetBytes(new ExportManifest { Config = SeedFiles.TinyConfig, TokenizerFile = "tokenizer.model" }.ToJson()),
        System.Text.Encoding.UTF8.GetBytes(new ExportManifest
        {
            Config = SeedFiles.TinyConfig with { RopeTheta = 500000, SharedClassifier = false },
            Profile = "fused", Weights = "int4", ExternalData = true, Source = "/models/x",
        }.ToJson()),
    ];

    public override void Run(byte[] input, ScratchDirectory scratch)
    {
        scratch.Write(ExportManifest.FileName, input);
        try
        {
            OnnxLanguageModel.Load(scratch.Path).Dispose();
        }
        catch (FileNotFoundException e) when (e.FileName == scratch.File(ExportManifest.ModelFileName))
        {
            // The manifest was read; only the graph is missing (see the remarks above).
        }
    }
}
