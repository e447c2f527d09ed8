using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Fuzz.Targets;

/// <summary>A Hugging Face directory's <c>model.safetensors</c> (8-byte header length, JSON header, data), beside a valid config.json.</summary>
public sealed class SafetensorsTarget : FuzzTarget
{
    public override int CiInputs => 2000;

    public override string Name => "safetensors";
    public override string EntryPoint => "ManagedModelLoader.LoadModel(directory)";

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
        [File.ReadAllBytes(Path.Combine(seeds.MiniHuggingFace, "model.safetensors")), seeds.ModelBytes("stories260K-hf/model.safetensors")];

    public override IReadOnlyList<BinaryField> Fields(byte[] seed) => [new(0, 8, "header length")];

    /// <summary>A JSON-aware edit of the header (a shape, dtype, data_offsets value, a name…), with the length prefix kept right so the edit reaches the header's checks.</summary>
    public override byte[]? EditFormat(byte[] input, Random random)
    {
        if (input.Length < 8) return null;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(input);
        if (n > (ulong)input.Length - 8) return null;
        var header = new List<byte>(input.AsSpan(8, (int)n).ToArray());
        Mutator.JsonEdit(header, random);
        var edited = new byte[8 + header.Count + input.Length - 8 - (int)n];
        BinaryPrimitives.WriteUInt64LittleEndian(edited, (ulong)header.Count);
        header.CopyTo(edited, 8);
        input.AsSpan(8 + (int)n).CopyTo(edited.AsSpan(8 + header.Count));
        return edited;
    }

    public override void Prepare(ScratchDirectory scratch, SeedFiles seeds) =>
        File.Copy(Path.Combine(seeds.MiniHuggingFace, "config.json"), scratch.File("config.json"), overwrite: true);

    public override void Run(byte[] input, ScratchDirectory scratch)
    {
        scratch.Write("model.safetensors", input);
        ManagedModelLoader.LoadModel(scratch.Path, threads: 1).Dispose();
    }
}

/// <summary>A Hugging Face directory's <c>config.json</c>, beside a valid model.safetensors.</summary>
public sealed class HuggingFaceConfigTarget : FuzzTarget
{
    public override int CiInputs => 6000;

    public override string Name => "hf-config";
    public override string EntryPoint => "ManagedModelLoader.LoadModel(directory)";
    public override bool IsJson => true;

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
        [File.ReadAllBytes(Path.Combine(seeds.MiniHuggingFace, "config.json")), seeds.ModelBytes("stories260K-hf/config.json")];

    public override void Prepare(ScratchDirectory scratch, SeedFiles seeds) =>
        File.Copy(Path.Combine(seeds.MiniHuggingFace, "model.safetensors"), scratch.File("model.safetensors"), overwrite: true);

    public override void Run(byte[] input, ScratchDirectory scratch)
    {
        scratch.Write("config.json", input);
        ManagedModelLoader.LoadModel(scratch.Path, threads: 1).Dispose();
    }
}
