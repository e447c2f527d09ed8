namespace MlPipelines.Fuzz;

/// <summary>
/// One parser under fuzzing: its seed files, the format-aware edits that aim at its counts, lengths and offsets, and
/// how an input reaches it: written where a user's file would be, then loaded through the public entry point.
/// </summary>
public abstract class FuzzTarget
{
    /// <summary>The name used on the command line and in reports.</summary>
    public abstract string Name { get; }

    /// <summary>The entry point the input goes through, for reports.</summary>
    public abstract string EntryPoint { get; }

    /// <summary>Whether inputs are JSON text (the mutator then also makes JSON-aware edits).</summary>
    public virtual bool IsJson => false;

    /// <summary>Whether inputs are template source (the mutator then also inserts template syntax).</summary>
    public virtual bool IsTemplate => false;

    /// <summary>
    /// The exception types an input may fail with: a malformed file is an <see cref="InvalidDataException"/>, a
    /// format variant the engine does not implement a <see cref="NotSupportedException"/>. Anything else is a bug.
    /// </summary>
    public virtual IReadOnlyList<Type> AllowedExceptions { get; } = [typeof(InvalidDataException), typeof(NotSupportedException)];

    /// <summary>Whether the message of an allowed <paramref name="failure"/> must name the file (it must, unless a target says why not).</summary>
    public virtual bool MessageMustNameFile(Exception failure) => true;

    /// <summary>
    /// How many bytes one input may allocate per byte of input, on top of <see cref="FuzzContract.AllocationSlackBytes"/>:
    /// loading builds tables from what it reads (a vocabulary, a dictionary of tensors, fp32 copies of half-precision
    /// weights), so it allocates a small multiple of the file; a header that sizes a buffer without checking it allocates
    /// far more than the file holds.
    /// </summary>
    public virtual int AllocationPerInputByte => 16;

    /// <summary>Whether inputs reach the chat-template renderer, whose allocations follow its work budget rather than the input's size (<see cref="FuzzContract.TemplateRenderAllocationBytes"/>).</summary>
    public virtual bool RendersTemplates => false;

    /// <summary>
    /// How many inputs the CI check (tests/Fuzz.Tests) gives this target: a few seconds' worth on a CI machine, the same
    /// inputs every time (the run's seed is fixed).
    /// </summary>
    public virtual int CiInputs => 3000;

    /// <summary>The seed inputs: real files from <c>models/</c> and small generated ones (built once into <paramref name="seeds"/>).</summary>
    public abstract IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds);

    /// <summary>
    /// The fixed-width binary fields of <paramref name="seed"/> worth aiming at (counts, lengths, offsets, types); empty
    /// when the format has none or is edited another way (see <see cref="EditFormat"/>).
    /// </summary>
    public virtual IReadOnlyList<BinaryField> Fields(byte[] seed) => [];

    /// <summary>A format-aware edit that is not a fixed-width field overwrite (e.g. a protobuf varint re-encoded); null: none.</summary>
    public virtual byte[]? EditFormat(byte[] input, Random random) => null;

    /// <summary>Makes <paramref name="scratch"/> ready (files that stay fixed while the fuzzed one changes).</summary>
    public virtual void Prepare(ScratchDirectory scratch, SeedFiles seeds) { }

    /// <summary>Writes <paramref name="input"/> where a user's file would be and loads it through the entry point.</summary>
    public abstract void Run(byte[] input, ScratchDirectory scratch);
}

/// <summary>A little-endian integer field of a binary input: where it is and how wide (1, 2, 4 or 8 bytes).</summary>
public readonly record struct BinaryField(int Offset, int Width, string What);
