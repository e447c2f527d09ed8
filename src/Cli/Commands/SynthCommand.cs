using System.CommandLine;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.IO;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe synth</c>: writes a seeded random-weight model of a named or explicit shape, as a llama2.c checkpoint, a
/// Hugging Face directory or a GGUF file (the same weights for the same seed in every form). Speed does not depend on weight values, so these stand in for public models in benchmarks.
/// </summary>
internal static class SynthCommand
{
    public static Command Create(CliConsole console)
    {
        var shape = new Option<string?>("--shape") { Description = $"Named shape: {string.Join(", ", ModelShapes.Names)}." };
        var output = new Option<string>("--out", "-o") { Description = "Checkpoint file (llama2c, gguf) or directory (hf) to write.", Required = true };
        var format = new Option<string>("--format")
        {
            Description = "llama2c (a .bin file), hf (a Hugging Face directory: config.json + model.safetensors) or gguf (a llama.cpp file).",
            DefaultValueFactory = _ => "llama2c",
        };
        format.AcceptOnlyFromAmong("llama2c", "hf", "gguf");
        var tokenizer = new Option<string?>("--tokenizer")
        {
            Description = "A tokenizer to ship with the model: tokenizer.json or a SentencePiece .model (gguf: embedded, with the chat " +
                "template of a tokenizer_config.json beside it; hf: copied into the directory with that tokenizer_config.json).",
        };
        var matrixType = new Option<string>("--gguf-type")
        {
            Description = "How gguf stores the matrices, as llama.cpp's quantize tool would: f32, f16, bf16, q8_0, q4_0 or q4_k_m.",
            DefaultValueFactory = _ => "f32",
        };
        matrixType.AcceptOnlyFromAmong("f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m");
        var headDim = new Option<int?>("--head-dim") { Description = "Width of an attention head, when it is not --dim / --heads." };
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights.", DefaultValueFactory = _ => 1 };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file." };
        var dim = new Option<int?>("--dim") { Description = "Hidden size (overrides the shape)." };
        var hidden = new Option<int?>("--hidden") { Description = "Feed-forward size." };
        var layers = new Option<int?>("--layers") { Description = "Number of layers." };
        var heads = new Option<int?>("--heads") { Description = "Number of attention heads." };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Number of key/value heads (default: --heads)." };
        var vocab = new Option<int?>("--vocab") { Description = "Vocabulary size." };
        var seq = new Option<int?>("--seq") { Description = "Context length." };
        var unshared = new Option<bool>("--unshared-classifier") { Description = "Write a separate classifier instead of tying it to the embedding." };

        var command = new Command("synth", "Write a random-weight model of a given shape (llama2.c, Hugging Face or GGUF).")
        {
            shape, output, format, seed, force, dim, hidden, layers, heads, kvHeads, headDim, vocab, seq, unshared, tokenizer, matrixType,
        };
        command.SetAction(parse =>
        {
            ModelConfig? named = parse.GetValue(shape) is { } name ? ModelShapes.Get(name) : null;
            int Pick(Option<int?> option, int? fallback) => parse.GetValue(option) ?? fallback
                ?? throw new ArgumentException($"{option.Name} is required when no --shape is given.");
            int headCount = Pick(heads, named?.HeadCount);
            var config = (named ?? new ModelConfig { Dim = 1, HiddenDim = 1, LayerCount = 1, HeadCount = 1, KvHeadCount = 1, VocabSize = 1, MaxSequenceLength = 1 }) with
            {
                Dim = Pick(dim, named?.Dim),
                HiddenDim = Pick(hidden, named?.HiddenDim),
                LayerCount = Pick(layers, named?.LayerCount),
                HeadCount = headCount,
                HeadDim = parse.GetValue(headDim) ?? 0,
                KvHeadCount = parse.GetValue(kvHeads) ?? (parse.GetValue(heads) is null ? named?.KvHeadCount : null) ?? headCount,
                VocabSize = Pick(vocab, named?.VocabSize),
                MaxSequenceLength = Pick(seq, named?.MaxSequenceLength),
                SharedClassifier = !parse.GetValue(unshared),
            };
            // A --vocab smaller than the shape's special ids keeps only the ids that still exist (BOS/EOS fall back to 1 and 2).
            config = config with
            {
                BosId = config.BosId < config.VocabSize ? config.BosId : 1,
                EosId = config.EosId < config.VocabSize ? config.EosId : 2,
                StopIds = new TokenIdList(config.StopIds.Where(id => id < config.VocabSize)),
            };
            string path = parse.GetValue(output)!;
            string? tokenizerPath = parse.GetValue(tokenizer);
            if (tokenizerPath is not null && !File.Exists(tokenizerPath))
                throw new FileNotFoundException($"--tokenizer '{tokenizerPath}' does not exist.", tokenizerPath);
            switch (parse.GetValue(format))
            {
                case "hf":
                    // The directory appears whole (weights, config and tokenizer together) or not at all, and --force
                    // replaces it whole: a half-written or mixed old/new model directory would load as a wrong model.
                    AtomicDirectory.Write(path, parse.GetValue(force), replaceOption: "--force", write: directory =>
                    {
                        HuggingFaceCheckpointWriter.WriteRandom(directory, config, parse.GetValue(seed));
                        if (tokenizerPath is not null)
                            CopyTokenizer(tokenizerPath, directory);
                    });
                    break;
                case "gguf":
                    GgufCheckpointWriter.WriteRandom(path, config, parse.GetValue(seed), new GgufWriteOptions
                    {
                        TokenizerPath = tokenizerPath,
                        ChatTemplate = tokenizerPath is null ? null : ChatFormat.FromDirectory(Path.GetDirectoryName(Path.GetFullPath(tokenizerPath))!)?.Template.Source,
                        Quantization = Enum.Parse<GgufQuantization>(parse.GetValue(matrixType)!, ignoreCase: true),
                        Name = parse.GetValue(shape) ?? "synthetic",
                    }, overwrite: parse.GetValue(force));
                    break;
                default:
                    if (config.RopeTheta != 10000f || config.RopeScaling.Kind != RopeScalingKind.None || config.HasExplicitHeadDim)
                        throw new ArgumentException($"This shape has RoPE base {config.RopeTheta}, {config.RopeScaling.Kind} RoPE scaling" +
                            (config.HasExplicitHeadDim ? $" and head size {config.HeadDim}" : "") +
                            ", which a llama2.c checkpoint cannot record; write it with --format hf or --format gguf.");
                    if (tokenizerPath is not null)
                        throw new ArgumentException("--tokenizer goes with --format hf or gguf; a llama2.c checkpoint keeps its tokenizer in a separate file.");
                    Llama2cCheckpointWriter.WriteRandom(path, config, parse.GetValue(seed), overwrite: parse.GetValue(force));
                    break;
            }
            console.Out.WriteLine($"wrote {path}: dim {config.Dim}, hidden {config.HiddenDim}, {config.LayerCount} layers, " +
                $"{config.HeadCount} heads, {config.KvHeadCount} kv heads, vocab {config.VocabSize}, seq {config.MaxSequenceLength}, " +
                $"{(File.Exists(path) ? new FileInfo(path).Length : Directory.GetFiles(path).Sum(f => new FileInfo(f).Length)):N0} bytes");
            return 0;
        });
        return command;
    }

    /// <summary>Copies a tokenizer file, and the tokenizer_config.json beside it, into a Hugging Face directory.</summary>
    private static void CopyTokenizer(string tokenizerPath, string directory)
    {
        string name = Path.GetExtension(tokenizerPath).Equals(".json", StringComparison.OrdinalIgnoreCase) ? "tokenizer.json" : "tokenizer.model";
        File.Copy(tokenizerPath, Path.Combine(directory, name), overwrite: true);
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerPath))!, ChatFormat.TokenizerConfigFileName);
        if (File.Exists(config))
            File.Copy(config, Path.Combine(directory, ChatFormat.TokenizerConfigFileName), overwrite: true);
    }
}
