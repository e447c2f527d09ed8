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

/// <summary>
/// onnxruntime-genai's <c>genai_config.json</c> in a directory without <c>mlpipe.json</c> or <c>config.json</c> (a
/// builder's output), read by <see cref="OnnxLanguageModel.Load"/>: it names the decoder file and gives the shape. The
/// decoder is a few bytes that are not ONNX, so an input that gets past the configuration ends in ONNX Runtime refusing
/// the graph, which counts as loaded; one naming another file ends in that file's absence.
/// </summary>
public sealed class GenAiConfigTarget : FuzzTarget
{
    public override int CiInputs => 4000;

    public override string Name => "genai-config";
    public override string EntryPoint => "OnnxLanguageModel.Load(directory) up to the graph";
    public override bool IsJson => true;

    public override IReadOnlyList<Type> AllowedExceptions { get; } =
        [typeof(InvalidDataException), typeof(NotSupportedException), typeof(FileNotFoundException)];

    // The shape of what the builder (and `mlpipe export`) writes: the model section, the decoder's file, sizes and I/O
    // names, a list of end ids, and search defaults.
    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
    [
        System.Text.Encoding.UTF8.GetBytes("""
            {"model": {"bos_token_id": 1, "context_length": 32, "eos_token_id": [2, 5], "pad_token_id": 2, "type": "llama",
              "vocab_size": 512, "decoder": {"filename": "model.onnx", "head_size": 8, "hidden_size": 32,
              "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
              "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
              "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"},
              "outputs": {"logits": "logits", "present_key_names": "present.%d.key", "present_value_names": "present.%d.value"}}},
             "search": {"do_sample": false, "max_length": 32, "past_present_share_buffer": true, "top_k": 1}}
            """),
    ];

    public override void Prepare(ScratchDirectory scratch, SeedFiles seeds) =>
        scratch.Write("model.onnx", [0x08, 0x07, 0x12, 0x03, 0x6e, 0x6f, 0x74]);

    public override void Run(byte[] input, ScratchDirectory scratch)
    {
        scratch.Write("genai_config.json", input);
        try
        {
            OnnxLanguageModel.Load(scratch.Path).Dispose();
        }
        catch (InvalidDataException e) when (e.Message.StartsWith(scratch.File("model.onnx") + ": not a loadable ONNX model", StringComparison.Ordinal))
        {
            // The configuration was read and described the model; only the graph is not one (see the remarks above).
        }
    }
}
