using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Fuzz.Targets;

/// <summary>A llama2.c fp32 checkpoint (version 0: seven int32 shape fields, then the weights).</summary>
public sealed class Llama2cTarget : FuzzTarget
{
    public override int CiInputs => 2000;

    public override string Name => "llama2c";
    public override string EntryPoint => "ManagedModelLoader.LoadModel(path)";

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
        [File.ReadAllBytes(seeds.MiniLlama2c), seeds.ModelBytes("stories260K/stories260K.bin")];

    public override IReadOnlyList<BinaryField> Fields(byte[] seed) =>
        [.. Enumerable.Range(0, 7).Select(i => new BinaryField(4 * i, 4, "shape field " + i))];

    public override void Run(byte[] input, ScratchDirectory scratch) =>
        ManagedModelLoader.LoadModel(scratch.Write("model.bin", input), threads: 1).Dispose();
}

/// <summary>A llama2.c int8 checkpoint (version 2: magic, version, seven shape fields, the shared flag, the group size, then Q8_0 tensors).</summary>
public sealed class Llama2cQ80Target : FuzzTarget
{
    public override int CiInputs => 2000;

    public override string Name => "llama2c-q80";
    public override string EntryPoint => "ManagedModelLoader.LoadModel(path)";

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) =>
        [File.ReadAllBytes(seeds.MiniLlama2cQ80), seeds.ModelBytes("stories260K/stories260K_q80.bin")];

    public override IReadOnlyList<BinaryField> Fields(byte[] seed) =>
    [
        new(0, 4, "magic"), new(4, 4, "version"),
        .. Enumerable.Range(0, 7).Select(i => new BinaryField(8 + 4 * i, 4, "shape field " + i)),
        new(36, 1, "shared classifier"), new(37, 4, "group size"),
    ];

    public override void Run(byte[] input, ScratchDirectory scratch) =>
        ManagedModelLoader.LoadModel(scratch.Write("model_q80.bin", input), threads: 1).Dispose();
}
