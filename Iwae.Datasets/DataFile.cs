namespace Iwae.Datasets;

/// <summary>Opening a data file, with the data layer's one-line errors for a missing or unreadable file.</summary>
internal static class DataFile
{
    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    /// <exception cref="DataFormatException">The file is missing or cannot be opened.</exception>
    public static FileStream OpenRead(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw DataFormatException.At(path, "file not found", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw DataFormatException.At(path, $"cannot open: {ex.Message}", ex);
        }
    }

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="stream"/>; the number of bytes read, short only at the end of the stream.</summary>
    public static int ReadFully(Stream stream, Span<byte> buffer) => stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

    /// <summary>Whether <paramref name="stream"/> holds at least one more byte (consumes it).</summary>
    public static bool HasMore(Stream stream) => stream.ReadByte() >= 0;
}
