using System.CommandLine;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe synth</c>: writes a seeded random-weight model of a named or explicit shape, as a llama2.c checkpoint or a
/// Hugging Face directory. Speed does not depend on weight values, so these stand in for public models in benchmarks.
/// </summary>
internal static class SynthCommand
{
    public static Command Create(CliConsole console)
    {
        var shape = new Option<string?>("--shape") { Description = $"Named shape: {string.Join(", ", ModelShapes.Names)}." };
        var output = new Option<string>("--out", "-o") { Description = "Checkpoint file (llama2c) or directory (hf) to write.", Required = true };
        var format = new Option<string>("--format") { Description = "llama2c (a .bin file) or hf (a Hugging Face directory: config.json + model.safetensors).", DefaultValueFactory = _ => "llama2c" };
        format.AcceptOnlyFromAmong("llama2c", "hf");
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

        var command = new Command("synth", "Write a random-weight llama2.c checkpoint of a given shape.")
        {
            shape, output, format, seed, force, dim, hidden, layers, heads, kvHeads, vocab, seq, unshared,
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
            if (parse.GetValue(format) == "hf")
                MlPipelines.ManagedEngine.Formats.Safetensors.HuggingFaceCheckpointWriter.WriteRandom(path, config, parse.GetValue(seed), overwrite: parse.GetValue(force));
            else if (config.RopeTheta != 10000f || config.RopeScaling.Kind != RopeScalingKind.None)
                throw new ArgumentException($"Shape '{parse.GetValue(shape)}' has RoPE base {config.RopeTheta} and {config.RopeScaling.Kind} RoPE scaling, " +
                    "which a llama2.c checkpoint cannot record; write it with --format hf.");
            else
                Llama2cCheckpointWriter.WriteRandom(path, config, parse.GetValue(seed), overwrite: parse.GetValue(force));
            console.Out.WriteLine($"wrote {path}: dim {config.Dim}, hidden {config.HiddenDim}, {config.LayerCount} layers, " +
                $"{config.HeadCount} heads, {config.KvHeadCount} kv heads, vocab {config.VocabSize}, seq {config.MaxSequenceLength}, " +
                $"{(File.Exists(path) ? new FileInfo(path).Length : Directory.GetFiles(path).Sum(f => new FileInfo(f).Length)):N0} bytes");
            return 0;
        });
        return command;
    }
}
