using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Iwae.Core.Data;

namespace Iwae.Datasets;

/// <summary>How a run's data were given (<see cref="DataSource.Resolve"/>).</summary>
public enum DataKind
{
    /// <summary>The embedded subset, which ships with the library and the tool: found on any machine.</summary>
    Embedded,

    /// <summary>A file or folder, by its full path.</summary>
    Path,

    /// <summary>A fetched data set, by its name (looked up in the data directory of whoever reads it).</summary>
    Named,

    /// <summary>Examples given in memory (a <see cref="Dataset"/> built by a program): no file gives them back.</summary>
    InMemory,
}

/// <summary>
/// What a checkpoint records of the data its model was trained on, so that reading it from any folder finds the same
/// data and notices when they are gone or changed: where they are (<see cref="Kind"/>, <see cref="Location"/>) and a
/// fingerprint, the splits' shapes and the SHA-256 of their values as loaded (the training split's floats, then the
/// test split's, little-endian float32). The fingerprint is of the values, not the file's bytes, so the same data
/// saved in another format or folder match.
/// </summary>
/// <param name="Kind">How the data were given.</param>
/// <param name="Location">The full path (<see cref="DataKind.Path"/>), the set's name (<see cref="DataKind.Named"/>), or "".</param>
/// <param name="Shape">"train 54x6, test 6x6": examples x values of each split.</param>
/// <param name="Sha256">SHA-256 of the values, lower-case hex.</param>
public sealed record DataRecord(DataKind Kind, string Location, string Shape, string Sha256)
{
    /// <summary>The checkpoint this record was read from, for messages ("" when not read from one).</summary>
    public string Checkpoint { get; init; } = "";

    /// <summary>
    /// The record of <paramref name="train"/> and <paramref name="test"/>, loaded from <paramref name="spec"/>
    /// (<see cref="DataSource.Load"/>'s argument). With no spec, data that do not come from the embedded subset were
    /// given in memory.
    /// </summary>
    public static DataRecord Of(string? spec, Dataset train, Dataset test)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        var (kind, location) = DataSource.Resolve(spec);
        if (spec is null && !FromEmbeddedSubset(train)) kind = DataKind.InMemory;
        return new DataRecord(kind, location, ShapeOf(train, test), Sha256Of(train, test));
    }

    /// <summary>What <c>--data</c> says to load these data again: the path or the name; null for the embedded subset and for data in memory.</summary>
    public string? Spec => Kind is DataKind.Path or DataKind.Named ? Location : null;

    /// <summary>"train 54x6, test 6x6".</summary>
    public static string ShapeOf(Dataset train, Dataset test)
        => $"train {train.Count}x{train.PixelsPerImage}, test {test.Count}x{test.PixelsPerImage}";

    /// <summary>SHA-256 of the training values, then the test values (float32, little-endian), lower-case hex.</summary>
    public static string Sha256Of(Dataset train, Dataset test)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(MemoryMarshal.AsBytes(train.Images.Span));
        hash.AppendData(MemoryMarshal.AsBytes(test.Images.Span));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Throws unless these data can be loaded again from their record: data held in memory cannot (without
    /// other data given), and a recorded path must still exist.
    /// </summary>
    /// <exception cref="ArgumentException">In memory, and no <c>--data</c>.</exception>
    /// <exception cref="DataFormatException">The recorded file or folder is gone.</exception>
    public void CheckAvailable()
    {
        if (Kind == DataKind.InMemory)
            throw new ArgumentException($"--data is needed: {Owner()} was trained on data held in memory (built by a program, not read from a file), which it cannot load again");
        if (Kind == DataKind.Path && !File.Exists(Location) && !Directory.Exists(Location))
            throw DataFormatException.At(Location, $"not found: {Owner()} was trained on the data there; give the data to use with --data");
    }

    /// <summary>Throws unless <paramref name="train"/> and <paramref name="test"/> are the recorded data (shape, then values).</summary>
    /// <exception cref="DataFormatException">They differ; the message names the data, the checkpoint and what differs.</exception>
    public void Check(Dataset train, Dataset test)
    {
        string shape = ShapeOf(train, test);
        string? differs = null;
        if (shape != Shape) differs = $"{shape} now; {Shape} then";
        else if (Sha256Of(train, test) is var sha && sha != Sha256) differs = $"the same shape ({shape}), other values: SHA-256 {sha[..12]}... now, {Sha256[..Math.Min(12, Sha256.Length)]}... then";
        if (differs is not null)
            throw DataFormatException.At(Where(train),
                $"these data differ from those {Owner()} was trained on ({differs}); they changed since, or are other data: give the data to use with --data");
    }

    private string Owner() => Checkpoint.Length > 0 ? $"checkpoint {Checkpoint}" : "the model";

    private string Where(Dataset train) => Kind switch
    {
        DataKind.Path or DataKind.Named => Location,
        DataKind.Embedded => $"the embedded subset ({Mnist.SubsetName})",
        _ => train.Source,
    };

    // The embedded subset is read from its IDX files by Mnist.Load: its source is the training images' file in that folder.
    private static bool FromEmbeddedSubset(Dataset train)
    {
        if (train.Source.Length == 0) return false;
        try
        {
            return string.Equals(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(train.Source)), Mnist.DefaultFolder(), StringComparison.Ordinal);
        }
        catch (DataFormatException)
        {
            return false;
        }
    }
}
