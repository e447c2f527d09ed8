using System.Text.Json;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;
using GenAi = Microsoft.ML.OnnxRuntimeGenAI;

namespace MlPipelines.Exporter.Tests;

/// <summary>
/// An export is an onnxruntime-genai model directory as it stands: genai (the NuGet package, on the CPU) loads it with
/// no file added or edited, tokenizes a text prompt with the tokenizer.json the export converted from the SentencePiece
/// or llama2.c vocabulary into the managed tokenizer's ids, and its greedy generation gives the managed engine's tokens.
/// </summary>
public sealed class GenAiCompatibilityTests
{
    private const int Steps = 200;

    public static TheoryData<string, OnnxExportProfile> Tokenizers => new()
    {
        { TestPaths.Tok512Model, OnnxExportProfile.Portable },
        { TestPaths.Tok512Bin, OnnxExportProfile.Portable },
        { TestPaths.Tok512Model, OnnxExportProfile.Fused },
        { TestPaths.Tok512Bin, OnnxExportProfile.Fused },
    };

    public static TheoryData<OnnxExportProfile> Profiles => new() { OnnxExportProfile.Portable, OnnxExportProfile.Fused };

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Genai_tokenizes_and_generates_greedily_as_the_managed_engine(string tokenizerPath, OnnxExportProfile profile)
    {
        using var dir = new TempDir();
        using var model = ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        var export = OnnxExporter.Export(model.Weights, dir.File("onnx"), new OnnxExportOptions { TokenizerPath = tokenizerPath, Profile = profile });
        Assert.Null(export.GenAiTokenizerProblem);
        const string prompt = "Once upon a time, Lily saw a big";

        using var genaiModel = new GenAi.Model(export.OutputDirectory);
        using var tokenizer = new GenAi.Tokenizer(genaiModel);
        // genai's Encode adds no BOS itself; it reads special tokens in the text, as chat templates write them. With the
        // BOS text in front it gives the ids `mlpipe generate` forwards.
        PieceTokenizer ours = TokenizerLoader.Load(tokenizerPath);
        using var sequences = tokenizer.Encode("<s>" + prompt);   // the BOS token as the converted tokenizer.json names it
        int[] genaiPrompt = sequences[0].ToArray();
        Assert.Equal(ours.Encode(prompt, addBos: true, addEos: false), genaiPrompt);

        AssertGenaiGreedyEqualsManaged(genaiModel, sequences, model, Steps);
    }

    /// <summary>
    /// A Llama-3-shaped model (random weights): Llama 3's tokenizer.json vocabulary with its tokenizer_config.json, grouped
    /// kv heads, llama3 RoPE scaling (through the graph's cos/sin tables), BOS 128000 and two end ids.
    /// </summary>
    [Theory]
    [MemberData(nameof(Profiles))]
    public void Genai_runs_a_llama3_shaped_export_as_the_managed_engine(OnnxExportProfile profile)
    {
        var config = new ModelConfig
        {
            Dim = 64, HiddenDim = 160, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, VocabSize = 128256, MaxSequenceLength = 256,
            RopeTheta = 500000f, BosId = 128000, EosId = 128001, StopIds = new TokenIdList([128009]),
            RopeScaling = new RopeScaling { Kind = RopeScalingKind.Llama3, Factor = 8f, LowFrequencyFactor = 1f, HighFrequencyFactor = 4f, OriginalMaxPositions = 64 },
        };
        using var dir = new TempDir();
        string source = dir.File("hf");
        HuggingFaceCheckpointWriter.WriteRandom(source, config, seed: 17);
        string llama3 = Path.Combine(TestPaths.Models, "llama3-tokenizer");
        foreach (string name in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(llama3, name), Path.Combine(source, name));
        using var model = ManagedModelLoader.LoadModel(source);
        Assert.Equal(config.RopeScaling, model.Config.RopeScaling);
        // The loader runs the directory's weights as stored; the export reads them widened, as `mlpipe export` does.
        OnnxExportResult export;
        using (LlamaWeights weights = HuggingFaceCheckpoint.Load(source))
            export = OnnxExporter.Export(weights, dir.File("onnx"), new OnnxExportOptions { TokenizerPath = Path.Combine(source, "tokenizer.json"), Profile = profile });
        using (var genaiConfig = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(export.OutputDirectory, "genai_config.json"))))
            Assert.Equal([128001, 128009], genaiConfig.RootElement.GetProperty("model").GetProperty("eos_token_id").EnumerateArray().Select(e => e.GetInt32()));

        const string prompt = "The capital of France is";
        PieceTokenizer ours = TokenizerLoader.Load(Path.Combine(source, "tokenizer.json"));
        using var genaiModel = new GenAi.Model(export.OutputDirectory);
        using var tokenizer = new GenAi.Tokenizer(genaiModel);
        using var sequences = tokenizer.Encode("<|begin_of_text|>" + prompt);
        int[] genaiPrompt = sequences[0].ToArray();
        Assert.Equal(ours.Encode(prompt, addBos: true, addEos: false), genaiPrompt);

        AssertGenaiGreedyEqualsManaged(genaiModel, sequences, model, steps: 48);
    }

    /// <summary>
    /// int4/int8 exports (MatMulNBits, activations kept 3-D, QuickGelu) run in genai as they do in ONNX Runtime: genai's
    /// greedy tokens are the managed engine's on the Q4_0/Q8_0 file the export carries bit for bit, up to the engines'
    /// independent int8 roundings of the activations (<see cref="Int8ActivationBound"/> of the position's logit range).
    /// </summary>
    [Theory]
    [InlineData(GgufQuantization.Q4_0, OnnxWeightPrecision.Int4)]
    [InlineData(GgufQuantization.Q8_0, OnnxWeightPrecision.Int8)]
    public void Genai_runs_a_quantised_export_as_the_managed_engine_runs_its_file(GgufQuantization quantization, OnnxWeightPrecision weights)
    {
        using var dir = new TempDir();
        WriteSmallGguf(dir, dir.File("q.gguf"), hiddenDim: 128, seed: 23, new GgufWriteOptions { Quantization = quantization, Pure = true });
        using var model = ManagedModelLoader.LoadModel(dir.File("q.gguf"));
        OnnxExportResult export;
        using (var stored = GgufCheckpoint.LoadStored(dir.File("q.gguf"), forKernels: false))
            export = OnnxExporter.Export(stored, dir.File("onnx"),   // in ggml's blocks of 32: the file's blocks carried bit for bit
                new OnnxExportOptions { Profile = OnnxExportProfile.Fused, Weights = weights, BlockSize = 32, TokenizerPath = TestPaths.Tok512Model });

        using var genaiModel = new GenAi.Model(export.OutputDirectory);
        using var tokenizer = new GenAi.Tokenizer(genaiModel);
        using var sequences = tokenizer.Encode("<s>" + "Once upon a time");
        AssertGenaiGreedyEqualsManaged(genaiModel, sequences, model, steps: 64, relativeTie: Int8ActivationBound);
    }

    /// <summary>
    /// The default int4 export (blocks of 128, wider than this model's rows of 64: one padded block per row) runs in genai
    /// as the managed engine runs the weights it carries — the fp16 model round-tripped in those blocks
    /// (<see cref="BlockRoundTrip"/>) — up to genai's int8 rounding of the activations.
    /// </summary>
    [Fact]
    public void Genai_runs_the_default_int4_export_as_the_managed_engine_runs_its_weights()
    {
        using var dir = new TempDir();
        WriteSmallGguf(dir, dir.File("f16.gguf"), hiddenDim: 192, seed: 41, new GgufWriteOptions { Quantization = GgufQuantization.F16 });
        // An F16 file's matrices are widened into memory of their own, which the round trip may overwrite.
        using var model = new TransformerModel(GgufCheckpoint.Load(dir.File("f16.gguf")));
        var export = OnnxExporter.Export(model.Weights, dir.File("onnx"),
            new OnnxExportOptions { Profile = OnnxExportProfile.Fused, Weights = OnnxWeightPrecision.Int4, TokenizerPath = TestPaths.Tok512Model });
        Assert.Equal(128, export.Manifest.BlockSize);
        BlockRoundTrip.AllMatrices(model.Weights, 128);

        using var genaiModel = new GenAi.Model(export.OutputDirectory);
        using var tokenizer = new GenAi.Tokenizer(genaiModel);
        using var sequences = tokenizer.Encode("<s>" + "Once upon a time");
        AssertGenaiGreedyEqualsManaged(genaiModel, sequences, model, steps: 64, relativeTie: Int8ActivationBound);
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Genai_config_describes_the_graph_and_the_vocabulary(OnnxExportProfile profile)
    {
        using var dir = new TempDir();
        using var model = ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        var export = OnnxExporter.Export(model.Weights, dir.File("onnx"), new OnnxExportOptions { TokenizerPath = TestPaths.Tok512Bin, Profile = profile });
        bool fused = profile == OnnxExportProfile.Fused;
        using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(export.OutputDirectory, "genai_config.json")));
        var m = config.RootElement.GetProperty("model");
        var c = model.Config;
        var d = m.GetProperty("decoder");
        Assert.Equal(("llama", c.VocabSize, c.MaxSequenceLength, c.BosId, c.EosId),
            (m.GetProperty("type").GetString(), m.GetProperty("vocab_size").GetInt32(), m.GetProperty("context_length").GetInt32(),
             m.GetProperty("bos_token_id").GetInt32(), m.GetProperty("eos_token_id").GetInt32()));
        // The fused graph pads stories260K's 8-wide heads to GroupQueryAttention's 16: genai sizes its KV buffers by it.
        Assert.Equal((fused ? 16 : c.HeadDim, c.Dim, c.HeadCount, c.KvHeadCount, c.LayerCount),
            (d.GetProperty("head_size").GetInt32(), d.GetProperty("hidden_size").GetInt32(), d.GetProperty("num_attention_heads").GetInt32(),
             d.GetProperty("num_key_value_heads").GetInt32(), d.GetProperty("num_hidden_layers").GetInt32()));
        Assert.Equal("past_key_values.%d.key", d.GetProperty("inputs").GetProperty("past_key_names").GetString());
        Assert.Equal("present.%d.value", d.GetProperty("outputs").GetProperty("present_value_names").GetString());
        Assert.Equal(fused, config.RootElement.GetProperty("search").GetProperty("past_present_share_buffer").GetBoolean());
        Assert.Equal(!fused, d.GetProperty("inputs").TryGetProperty("position_ids", out _));
        Assert.True(File.Exists(Path.Combine(export.OutputDirectory, "tokenizer.json")));
        Assert.True(File.Exists(Path.Combine(export.OutputDirectory, "tokenizer_config.json")));
    }

    /// <summary>
    /// genai's greedy generation of up to <paramref name="steps"/> tokens after the encoded prompt is the managed engine's:
    /// the managed engine follows genai's tokens and, at every step, genai's token is its argmax — or, where the two
    /// engines' rounding may legitimately pick differently, within <see cref="NearTie"/> of it. genai stops at an end id
    /// (ours keeps going), so its length must be the step limit or end with an end id. <paramref name="relativeTie"/>, when
    /// given, widens the near tie to that share of the position's logit range (quantised activations).
    /// </summary>
    private static void AssertGenaiGreedyEqualsManaged(GenAi.Model genaiModel, GenAi.Sequences sequences, TransformerModel model, int steps, float relativeTie = 0)
    {
        int[] prompt = sequences[0].ToArray();
        using var options = new GenAi.GeneratorParams(genaiModel);
        options.SetSearchOption("max_length", prompt.Length + steps);
        using var generator = new GenAi.Generator(genaiModel, options);
        generator.AppendTokenSequences(sequences);
        while (!generator.IsDone())
            generator.GenerateNextToken();
        int[] generated = generator.GetSequence(0).ToArray()[prompt.Length..];
        Assert.True(generated.Length == steps || model.Config.IsEndOfSequence(generated[^1]), $"genai stopped after {generated.Length} tokens");

        using var session = model.CreateTransformerSession();
        var logits = new float[model.Config.VocabSize];
        session.Forward(prompt, 0, logits);
        for (int i = 0; i < generated.Length; i++)
        {
            int best = Array.IndexOf(logits, logits.Max());
            float tie = Math.Max(NearTie, relativeTie * (logits[best] - logits.Min()));
            Assert.True(generated[i] == best || logits[best] - logits[generated[i]] <= tie,
                $"step {i}: genai chose {generated[i]}, the managed engine {best} (by {logits[best] - logits[generated[i]]})");
            if (i + 1 < generated.Length) session.Forward([generated[i]], prompt.Length + i, logits);
        }
    }

    /// <summary>
    /// A small random GQA model (64 wide, 16-wide heads, 2 layers, the 512-token vocabulary) written to
    /// <paramref name="path"/> in the given GGUF form (through an F32 file beside it).
    /// </summary>
    private static void WriteSmallGguf(TempDir dir, string path, int hiddenDim, int seed, GgufWriteOptions options)
    {
        var config = new ModelConfig
        {
            Dim = 64, HiddenDim = hiddenDim, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, VocabSize = 512, MaxSequenceLength = 256,
            SharedClassifier = false,
        };
        GgufCheckpointWriter.WriteRandom(dir.File("f32.gguf"), config, seed);
        using var f32 = GgufCheckpoint.Load(dir.File("f32.gguf"));
        GgufCheckpointWriter.Write(f32, path, options);
    }

    /// <summary>How close two logits may be for the engines' argmax to differ: the portable graph's parity bound.</summary>
    private const float NearTie = 1e-4f;

    /// <summary>The int8-activation bound of the quantised exports' parity (README: 2 % of the position's logit range).</summary>
    private const float Int8ActivationBound = 0.02f;
}
