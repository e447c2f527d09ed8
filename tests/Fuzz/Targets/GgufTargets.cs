using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Fuzz.Targets;

/// <summary>A GGUF model file: header, metadata, tensor infos and the data they point at, loaded as <c>mlpipe generate</c> loads it.</summary>
public sealed class GgufModelTarget : FuzzTarget
{
    public override int CiInputs => 600;

    public override string Name => "gguf";
    public override string EntryPoint => "ManagedModelLoader.LoadModel(path)";

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
        [File.ReadAllBytes(seeds.TinyGguf), File.ReadAllBytes(seeds.TinyGgufF16), seeds.ModelBytes("tiny-random-gguf/llama-2-tiny-random.gguf")];

    public override IReadOnlyList<BinaryField> Fields(byte[] seed) => GgufFields.Find(seed);

    public override void Run(byte[] input, ScratchDirectory scratch)
    {
        string path = scratch.Write("model.gguf", input);
        ManagedModelLoader.LoadModel(path, threads: 1).Dispose();
    }
}

/// <summary>The tokenizer and chat template a GGUF file carries (its <c>tokenizer.*</c> keys), read as <c>mlpipe tokenize</c> and <c>mlpipe chat</c> read them.</summary>
public sealed class GgufTokenizerTarget : FuzzTarget
{
    public override int CiInputs => 1500;

    public override string Name => "gguf-tokenizer";
    public override bool RendersTemplates => true;   // tokenizer.chat_template
    public override string EntryPoint => "TokenizerLoader.Load(path) + ChatFormat.FromGguf(path).Render";

    public override IReadOnlyList<Type> AllowedExceptions { get; } =
        [typeof(InvalidDataException), typeof(NotSupportedException), typeof(ChatTemplates.ChatTemplateException)];

    // As for chat_template.jinja (ChatTemplateTarget): a template refusing to render is about the conversation.
    public override bool MessageMustNameFile(Exception failure) => failure is not ChatTemplates.ChatTemplateException;

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) => [File.ReadAllBytes(seeds.TinyGguf), File.ReadAllBytes(seeds.TinyGgufF16)];

    public override IReadOnlyList<BinaryField> Fields(byte[] seed) => GgufFields.Find(seed);

    public override void Run(byte[] input, ScratchDirectory scratch)
    {
        string path = scratch.Write("model.gguf", input);
        TargetSteps.RunAll(this, scratch,
            () => TokenizerLoader.Load(path).Encode("Once upon a time", addBos: true, addEos: false),
            () => ChatFormat.FromGguf(path)?.Render([new ChatTemplates.ChatMessage("user", "Hello")], addGenerationPrompt: true));
    }
}

/// <summary>
/// The integer fields of a GGUF file (gguf.md): tensor and metadata counts, every string length, value type, array
/// element type and count, then each tensor's dimension count, dimensions, type and offset. Read leniently: the walk
/// stops where the file stops making sense.
/// </summary>
internal static class GgufFields
{
    private const int MaxFields = 20_000;

    public static IReadOnlyList<BinaryField> Find(byte[] file)
    {
        var fields = new List<BinaryField>();
        if (file.Length < 24) return fields;
        fields.Add(new(4, 4, "version"));
        fields.Add(new(8, 8, "tensor_count"));
        fields.Add(new(16, 8, "metadata_kv_count"));
        ulong tensors = BitConverter.ToUInt64(file, 8), kvs = BitConverter.ToUInt64(file, 16);
        long o = 24;
        bool String()
        {
            if (Mutator.U64(file, o) is not ulong n || n > (ulong)file.Length) return false;
            fields.Add(new((int)o, 8, "string length"));
            o += 8 + (long)n;
            return o <= file.Length;
        }
        bool Value(uint type)
        {
            switch (type)
            {
                case 0 or 1 or 7: o += 1; return o <= file.Length;
                case 2 or 3: o += 2; return o <= file.Length;
                case 4 or 5 or 6: o += 4; return o <= file.Length;
                case 10 or 11 or 12: o += 8; return o <= file.Length;
                case 8: return String();
                case 9:
                    if (Mutator.U32(file, o) is not uint element || Mutator.U64(file, o + 4) is not ulong count || count > (ulong)file.Length) return false;
                    fields.Add(new((int)o, 4, "array element type"));
                    fields.Add(new((int)o + 4, 8, "array count"));
                    o += 12;
                    for (ulong i = 0; i < count && fields.Count < MaxFields; i++)
                        if (!Value(element)) return false;
                    return true;
                default: return false;
            }
        }
        for (ulong k = 0; k < kvs && fields.Count < MaxFields; k++)
        {
            if (!String() || Mutator.U32(file, o) is not uint type) return fields;
            fields.Add(new((int)o, 4, "value type"));
            o += 4;
            if (!Value(type)) return fields;
        }
        for (ulong t = 0; t < tensors && fields.Count < MaxFields; t++)
        {
            if (!String() || Mutator.U32(file, o) is not uint dims || dims > 8) return fields;
            fields.Add(new((int)o, 4, "n_dimensions"));
            o += 4;
            for (uint d = 0; d < dims; d++, o += 8) fields.Add(new((int)o, 8, "dimension"));
            fields.Add(new((int)o, 4, "tensor type"));
            fields.Add(new((int)o + 4, 8, "tensor offset"));
            o += 12;
            if (o > file.Length) return fields;
        }
        return fields;
    }
}
