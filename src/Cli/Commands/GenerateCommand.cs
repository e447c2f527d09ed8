using System.CommandLine;
using System.Diagnostics;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe generate</c>: text generation that prints what llama2.c's <c>run</c> prints for the same
/// arguments. run.c's short flags are accepted (<c>-z -i -n -t -p -s</c>), and the checkpoint may be
/// given as the first positional argument as with <c>run model.bin</c>.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(CliConsole console)
    {
        var checkpoint = new Argument<string?>("checkpoint") { Description = "Model path or name (same as --model).", Arity = ArgumentArity.ZeroOrOne };
        var model = new Option<string?>("--model") { Description = $"Model file, directory or name (default: {ModelLocator.DefaultModelName}, looked up in models/, the models shipped with mlpipe, $MLPIPE_MODELS, then the Hugging Face cache for org/name[@revision])." };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer file (.model or tokenizer.bin); default: the one beside the model." };
        var prompt = new Option<string?>("--prompt", "-i") { Description = "Prompt text (default: empty, generation starts from BOS)." };
        var steps = new Option<int>("--steps", "-n") { Description = "Positions to run, prompt included; 0 = the model's context.", DefaultValueFactory = _ => 256 };
        var sampling = new SamplingArguments(defaultTemperature: 1.0, "Random seed (run.c's xorshift*); 0 = from the clock.");
        var engine = new EngineArguments();

        var command = new Command("generate", "Generate text from a prompt (llama2.c run.c compatible).")
        {
            checkpoint, model, tokenizer, prompt, steps,
        };
        sampling.AddTo(command);
        engine.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            ResolvedModel resolved = ResolvedModel.Resolve(parse.GetValue(model) ?? parse.GetValue(checkpoint), parse.GetValue(tokenizer));
            var options = new GenerationOptions
            {
                MaxSteps = parse.GetValue(steps),
                Sampling = sampling.Resolve(parse, resolved),
            };
            options.Validate();
            using LoadedModel loaded = engine.Open(parse, console, resolved);
            return Task.FromResult(Run(console, loaded, parse.GetValue(prompt) ?? "", options, cancellationToken));
        });
        return command;
    }

    private static int Run(CliConsole console, LoadedModel loaded, string prompt, GenerationOptions options, CancellationToken ct)
    {
        var tokenizer = loaded.Tokenizer;
        int[] promptTokens = tokenizer.Encode(prompt, addBos: true, addEos: false);
        using var session = loaded.Model.CreateSession();

        console.Out.Flush();
        var clock = new Stopwatch();
        int produced = 0;
        foreach (GeneratedToken token in Generator.Generate(session, promptTokens, options, ct))
        {
            ReadOnlySpan<byte> piece = tokenizer.GetPieceBytes(token.Previous, token.Id);
            // Vocabularies split characters across tokens (byte-level BPE, SentencePiece byte fallback): every byte is
            // written, and the terminal reassembles the UTF-8, as llama.cpp prints it. run.c's filter stays for llama2.c's
            // own tokenizer files, whose output is compared with run.c's byte for byte.
            if (tokenizer is Llama2cTokenizer ? IsPrintable(piece) : !piece.IsEmpty)
            {
                console.Raw.Write(piece);
                console.Raw.Flush();
            }
            if (!clock.IsRunning) clock.Start();   // as run.c: timing starts after the first token
            else produced++;
        }
        console.Raw.WriteByte((byte)'\n');
        console.Raw.Flush();
        if (produced > 0)
            console.Error.WriteLine($"achieved tok/s: {produced / clock.Elapsed.TotalSeconds:F6}");
        return 0;
    }

    /// <summary>
    /// run.c's <c>safe_printf</c>: a single-byte piece is printed only if it is a printable ASCII
    /// character or whitespace (so stray control bytes and lone UTF-8 fragments are dropped).
    /// </summary>
    internal static bool IsPrintable(ReadOnlySpan<byte> piece)
    {
        if (piece.IsEmpty) return false;
        if (piece.Length > 1) return true;
        byte b = piece[0];
        return (b >= 0x20 && b <= 0x7E) || (b >= 0x09 && b <= 0x0D);
    }
}
