using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Pipelines.Transforms;

namespace MlPipelines.Fuzz;

/// <summary>
/// The seed files: the repository's committed models (<c>models/</c>) and small files of the same formats written once
/// per process into a temporary folder (a model of a few kilobytes loads in microseconds, so most of a run's inputs are
/// mutants of these; the real files keep the mutants honest about what users' files look like).
/// </summary>
public sealed class SeedFiles : IDisposable
{
    /// <summary>The shape of the small generated models: every dimension the readers check, at its smallest useful size.</summary>
    public static ModelConfig TinyConfig { get; } = new()
    {
        Dim = 32, HiddenDim = 64, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, VocabSize = 512, MaxSequenceLength = 32,
    };

    /// <summary>
    /// A smaller shape still (64 tokens, one layer) for the weight-only seeds (llama2.c, safetensors), which need no
    /// tokenizer: about 15 KB, so most mutants load or fail in microseconds.
    /// </summary>
    public static ModelConfig MiniConfig { get; } = new()
    {
        Dim = 16, HiddenDim = 32, LayerCount = 1, HeadCount = 2, KvHeadCount = 1, VocabSize = 64, MaxSequenceLength = 16,
    };

    private readonly ScratchDirectory _folder = new("seeds");
    private readonly Dictionary<string, string> _made = new(StringComparer.Ordinal);

    public SeedFiles(string? repositoryRoot = null) => RepositoryRoot = repositoryRoot ?? FindRepositoryRoot();

    /// <summary>The checkout whose <c>models/</c> folder holds the committed models.</summary>
    public string RepositoryRoot { get; }

    /// <summary>A committed model file, by its path under <c>models/</c>.</summary>
    public string Model(string relativePath) => Path.Combine(RepositoryRoot, "models", relativePath);

    /// <summary>The bytes of a committed model file.</summary>
    public byte[] ModelBytes(string relativePath) => File.ReadAllBytes(Model(relativePath));

    /// <summary>A tiny llama2.c fp32 checkpoint (version 0) of <see cref="TinyConfig"/> (tok512's vocabulary, for the saved pipeline).</summary>
    public string TinyLlama2c => Make("tiny.bin", path => Llama2cCheckpointWriter.WriteRandom(path, TinyConfig, seed: 1));

    /// <summary>A llama2.c fp32 checkpoint of <see cref="MiniConfig"/>.</summary>
    public string MiniLlama2c => Make("mini.bin", path => Llama2cCheckpointWriter.WriteRandom(path, MiniConfig, seed: 1));

    /// <summary>A llama2.c int8 checkpoint (version 2, Q8_0 in groups of 16) of <see cref="MiniConfig"/>, written from the format description.</summary>
    public string MiniLlama2cQ80 => Make("mini_q80.bin", path => File.WriteAllBytes(path, Q80Checkpoint(MiniConfig, groupSize: 16)));

    /// <summary>A Hugging Face directory (config.json, model.safetensors) of <see cref="MiniConfig"/>.</summary>
    public string MiniHuggingFace => Make("mini-hf", path => HuggingFaceCheckpointWriter.WriteRandom(path, MiniConfig, seed: 1));

    /// <summary>A tiny GGUF model (Q8_0) carrying tok512's vocabulary and a chat template.</summary>
    public string TinyGguf => Make("tiny.gguf", path => GgufCheckpointWriter.WriteRandom(path, TinyConfig, seed: 1, new GgufWriteOptions
    {
        TokenizerPath = Model("stories260K/tok512.model"),
        ChatTemplate = Llama3ChatTemplate,
        Quantization = GgufQuantization.Q8_0,
    }));

    /// <summary>The same, fp16 and without a chat template.</summary>
    public string TinyGgufF16 => Make("tiny-f16.gguf", path => GgufCheckpointWriter.WriteRandom(path, TinyConfig, seed: 2, new GgufWriteOptions
    {
        TokenizerPath = Model("stories260K/tok512.model"),
        Quantization = GgufQuantization.F16,
    }));

    /// <summary>tok512.model as a Hugging Face tokenizer.json (SentencePiece-style BPE, as Llama 2's repositories ship it).</summary>
    public byte[] Tok512TokenizerJson => ((SentencePieceModelTokenizer)TokenizerLoader.Load(Model("stories260K/tok512.model"))).ToTokenizerJson();

    /// <summary>A small byte-level BPE tokenizer.json (GPT-2 / Llama 3 style) with added tokens, a pre-tokenizer split and a post-processor.</summary>
    public static byte[] ByteLevelTokenizerJson => Encoding.UTF8.GetBytes("""
        {"version":"1.0","added_tokens":[{"id":8,"content":"<|begin_of_text|>","special":true,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false},
        {"id":9,"content":"<|end_of_text|>","special":true,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false}],
        "normalizer":null,
        "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]},
        "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|begin_of_text|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<|begin_of_text|>":{"id":"<|begin_of_text|>","ids":[8],"tokens":["<|begin_of_text|>"]}}},
        "decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
        "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":true,
        "vocab":{"a":0,"b":1,"c":2,"Ġ":3,"ab":4,"abc":5,"Ġa":6,"Ġab":7},"merges":["a b","ab c","Ġ a","Ġa b"]}}
        """);

    /// <summary>Llama 3's chat template, from the committed models/llama3-tokenizer/tokenizer_config.json.</summary>
    public string Llama3ChatTemplate
    {
        get
        {
            using var config = JsonDocument.Parse(File.ReadAllBytes(Model("llama3-tokenizer/tokenizer_config.json")));
            return config.RootElement.GetProperty("chat_template").GetString()!;
        }
    }

    /// <summary>A saved ML.NET pipeline (tokenize with the tiny llama2.c model and tok512), as <see cref="LlamaPipelineModel.Save"/> writes it.</summary>
    public string SavedPipeline => Make("pipeline.zip", path =>
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = "Once upon a time" } });
        var model = LlamaModelReference.Managed(TinyLlama2c, Model("stories260K/tok512.model"));
        ITransformer fitted = ml.Transforms.Text.TokenizeWithLlama(model, "Tokens", "Text").Fit(data);
        LlamaPipelineModel.Save(ml, fitted, data.Schema, path);
    });

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    private string Make(string name, Action<string> write)
    {
        lock (_made)
        {
            if (_made.TryGetValue(name, out string? made)) return made;
            string path = _folder.File(name);
            write(path);
            return _made[name] = path;
        }
    }

    /// <summary>
    /// A llama2.c version-2 (Q8_0) file from the format description: the 256-byte header (magic "ak42", version, the
    /// seven shape ints, the shared-classifier byte, the group size), fp32 norms, then each tensor's int8 values and its
    /// fp32 group scales.
    /// </summary>
    private static byte[] Q80Checkpoint(ModelConfig c, int groupSize)
    {
        int kvDim = c.Dim / c.HeadCount * c.KvHeadCount;
        var tensors = new List<long> { (long)c.VocabSize * c.Dim };
        foreach (long n in new long[] { c.Dim * c.Dim, kvDim * c.Dim, kvDim * c.Dim, c.Dim * c.Dim, c.HiddenDim * c.Dim, c.HiddenDim * c.Dim, c.HiddenDim * c.Dim })
            for (int l = 0; l < c.LayerCount; l++) tensors.Add(n);
        long norms = 2L * c.LayerCount * c.Dim + c.Dim;
        var bytes = new MemoryStream();
        var header = new byte[256];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0x616b3432);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), 2);
        int[] fields = [c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.VocabSize, c.MaxSequenceLength];
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8 + 4 * i), fields[i]);
        header[36] = 1;
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(37), groupSize);
        bytes.Write(header);
        var random = new Random(1);
        Span<byte> four = stackalloc byte[4];
        for (long i = 0; i < norms; i++) { BinaryPrimitives.WriteSingleLittleEndian(four, 1f); bytes.Write(four); }
        foreach (long n in tensors)
        {
            for (long i = 0; i < n; i++) bytes.WriteByte((byte)random.Next(-127, 128));
            for (long g = 0; g < n / groupSize; g++) { BinaryPrimitives.WriteSingleLittleEndian(four, 0.01f); bytes.Write(four); }
        }
        return bytes.ToArray();
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MlPipelines.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Cannot find MlPipelines.sln above " + AppContext.BaseDirectory + "; pass --repo.");
    }

    public void Dispose() => _folder.Dispose();
}
