use super::*;
use crate::usb::types::Setup;

fn sim(text: &str, dir: &Path) -> SimHost {
    SimHost::new(Box::leak(Box::new(Simulation::parse(text, dir).unwrap())))
}

fn control(
    h: &mut dyn Handle,
    rt: u8,
    req: u8,
    value: u16,
    index: u16,
    data: Vec<u8>,
    len: u16,
) -> Result<Vec<u8>, UsbError> {
    let setup = Setup {
        request_type: rt,
        request: req,
        value,
        index,
        length: len,
    };
    h.submit(TransferRequest {
        kind: TransferType::Control,
        endpoint: 0,
        setup: Some(setup),
        length: len as u32,
        data,
        timeout_ms: 100,
        stream_id: 0,
        iso_packets: 0,
    })?
    .wait()
}

fn xfer(
    h: &mut dyn Handle,
    kind: TransferType,
    ep: u8,
    data: Vec<u8>,
    len: u32,
    timeout_ms: u32,
) -> Result<Vec<u8>, UsbError> {
    h.submit(TransferRequest {
        kind,
        endpoint: ep,
        setup: None,
        length: len,
        data,
        timeout_ms,
        stream_id: 0,
        iso_packets: 0,
    })?
    .wait()
}

#[test]
fn echo_answers_standard_requests_and_echoes() {
    let dir = tempfile_dir();
    let mut host = sim("device echo serial=ABC\n", &dir);
    let devices = host.devices().unwrap();
    assert_eq!(devices.len(), 1);
    let d = devices[0];
    assert_eq!(
        (d.descriptor.vendor_id, d.descriptor.product_id),
        (0x2341, 0x8057)
    );
    let mut h = host.open(d.key).unwrap();
    let h = h.as_mut();
    // Device descriptor, cut to wLength like real hardware.
    let dd = control(h, 0x80, 6, 0x0100, 0, vec![], 8).unwrap();
    assert_eq!(dd, [18, 1, 0, 2, 0xEF, 2, 1, 64]);
    // Languages, then the serial number in UTF-16LE.
    assert_eq!(
        control(h, 0x80, 6, 0x0300, 0, vec![], 255).unwrap(),
        [4, 3, 9, 4]
    );
    let s = control(h, 0x80, 6, 0x0303, 0x0409, vec![], 255).unwrap();
    assert_eq!(s, [8, 3, b'A', 0, b'B', 0, b'C', 0]);
    assert_eq!(
        control(h, 0x80, 6, 0x0309, 0x0409, vec![], 255),
        Err(UsbError::Pipe)
    );
    let cfg = control(h, 0x80, 6, 0x0200, 0, vec![], 255).unwrap();
    assert_eq!(cfg.len(), 9 + 9 + 4 * 7);
    // The device starts configured, as the kernel leaves it after enumeration: GET_CONFIGURATION
    // answers 1 before anyone set it.
    assert_eq!(control(h, 0x80, 8, 0, 0, vec![], 1).unwrap(), [1]);
    assert_eq!(h.get_configuration().unwrap(), 1);
    // Unconfigured, its endpoints are gone; configured again, they are back.
    h.set_configuration(Some(0)).unwrap();
    assert_eq!(control(h, 0x80, 8, 0, 0, vec![], 1).unwrap(), [0]);
    assert_eq!(
        xfer(h, TransferType::Bulk, 0x01, vec![1], 1, 10),
        Err(UsbError::NotFound)
    );
    h.set_configuration(Some(1)).unwrap();
    assert_eq!(h.get_configuration().unwrap(), 1);
    h.claim_interface(0).unwrap();
    assert_eq!(h.claim_interface(1), Err(UsbError::NotFound));

    xfer(h, TransferType::Bulk, 0x01, b"hello".to_vec(), 5, 100).unwrap();
    assert_eq!(
        xfer(h, TransferType::Bulk, 0x81, vec![], 64, 100).unwrap(),
        b"hello"
    );
    // Nothing queued: the device NAKs until the timeout.
    let t = Instant::now();
    assert_eq!(
        xfer(h, TransferType::Bulk, 0x81, vec![], 64, 30),
        Err(UsbError::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(30));
    // Interrupt keeps packets; a short buffer overflows.
    xfer(h, TransferType::Interrupt, 0x02, vec![7; 16], 16, 100).unwrap();
    assert_eq!(
        xfer(h, TransferType::Interrupt, 0x82, vec![], 8, 100),
        Err(UsbError::Overflow)
    );
    xfer(h, TransferType::Interrupt, 0x02, vec![9; 4], 4, 100).unwrap();
    assert_eq!(
        xfer(h, TransferType::Interrupt, 0x82, vec![], 64, 100).unwrap(),
        [9; 4]
    );
    // Wrong type for the endpoint.
    assert_eq!(
        xfer(h, TransferType::Interrupt, 0x01, vec![1], 1, 10),
        Err(UsbError::InvalidParam)
    );
    // Halt, see it stall, clear it with CLEAR_FEATURE(ENDPOINT_HALT).
    control(h, 0x02, 3, 0, 0x81, vec![], 0).unwrap();
    assert_eq!(control(h, 0x82, 0, 0, 0x81, vec![], 2).unwrap(), [1, 0]);
    assert_eq!(
        xfer(h, TransferType::Bulk, 0x81, vec![], 64, 10),
        Err(UsbError::Pipe)
    );
    control(h, 0x02, 1, 0, 0x81, vec![], 0).unwrap();
    xfer(h, TransferType::Bulk, 0x01, b"x".to_vec(), 1, 100).unwrap();
    assert_eq!(
        xfer(h, TransferType::Bulk, 0x81, vec![], 64, 100).unwrap(),
        b"x"
    );
    // SET_INTERFACE to alt 0 exists, alt 1 does not.
    control(h, 0x01, 11, 0, 0, vec![], 0).unwrap();
    assert_eq!(control(h, 0x01, 11, 1, 0, vec![], 0), Err(UsbError::Pipe));
    // Cancel before completion: interrupted.
    let mut p = h
        .submit(TransferRequest {
            kind: TransferType::Bulk,
            endpoint: 0x81,
            setup: None,
            length: 64,
            data: vec![],
            timeout_ms: 0,
            stream_id: 0,
            iso_packets: 0,
        })
        .unwrap();
    p.cancel().unwrap();
    assert_eq!(p.wait(), Err(UsbError::Interrupted));
    // A configuration change while claimed is refused.
    assert_eq!(h.set_configuration(None), Err(UsbError::Busy));
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wafer-usb-sim-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cbw(tag: u32, len: u32, data_in: bool, cb: &[u8]) -> Vec<u8> {
    let mut c = vec![0u8; 31];
    c[0..4].copy_from_slice(b"USBC");
    c[4..8].copy_from_slice(&tag.to_le_bytes());
    c[8..12].copy_from_slice(&len.to_le_bytes());
    c[12] = if data_in { 0x80 } else { 0 };
    c[14] = cb.len() as u8;
    c[15..15 + cb.len()].copy_from_slice(cb);
    c
}

#[test]
fn storage_speaks_bulk_only_scsi_over_its_image() {
    let dir = tempfile_dir();
    let _ = std::fs::remove_file(dir.join("disk.img"));
    let mut host = sim("device storage file=disk.img blocks=64\n", &dir);
    assert_eq!(
        std::fs::metadata(dir.join("disk.img")).unwrap().len(),
        64 * 512
    );
    let key = host.devices().unwrap()[0].key;
    let mut h = host.open(key).unwrap();
    let h = h.as_mut();
    h.set_configuration(Some(1)).unwrap();
    h.claim_interface(0).unwrap();
    assert_eq!(control(h, 0xA1, 0xFE, 0, 0, vec![], 1).unwrap(), [0]);
    let bulk = TransferType::Bulk;
    let command = |h: &mut dyn Handle, tag: u32, cb: &[u8], data: Option<Vec<u8>>, len: u32| {
        let data_in = data.is_none();
        xfer(
            h,
            bulk,
            0x02,
            cbw(tag, len, data_in && len > 0, cb),
            31,
            100,
        )
        .unwrap();
        let got = match data {
            Some(d) if len > 0 => {
                xfer(h, bulk, 0x02, d, len, 100).unwrap();
                Vec::new()
            }
            None if len > 0 => xfer(h, bulk, 0x81, vec![], len, 100).unwrap(),
            _ => Vec::new(),
        };
        let csw = xfer(h, bulk, 0x81, vec![], 13, 100).unwrap();
        assert_eq!(&csw[0..4], b"USBS");
        assert_eq!(u32::from_le_bytes(csw[4..8].try_into().unwrap()), tag);
        (got, csw[12])
    };
    let (inq, status) = command(h, 1, &[0x12, 0, 0, 0, 36, 0], None, 36);
    assert_eq!((status, &inq[8..13]), (0, &b"wafer"[..]));
    assert_eq!(command(h, 2, &[0, 0, 0, 0, 0, 0], None, 0).1, 0);
    let (cap, _) = command(h, 3, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], None, 8);
    assert_eq!(cap, [0, 0, 0, 63, 0, 0, 2, 0]);
    let data: Vec<u8> = (0..2048u32).map(|i| (i * 7) as u8).collect();
    let write10 = [0x2A, 0, 0, 0, 0, 10, 0, 0, 4, 0];
    assert_eq!(command(h, 4, &write10, Some(data.clone()), 2048).1, 0);
    let read10 = [0x28, 0, 0, 0, 0, 10, 0, 0, 4, 0];
    let (back, status) = command(h, 5, &read10, None, 2048);
    assert_eq!((status, back == data), (0, true));
    let on_disk = std::fs::read(dir.join("disk.img")).unwrap();
    assert_eq!(&on_disk[10 * 512..14 * 512], &data[..]);
    // Past the end: CHECK CONDITION, then REQUEST SENSE says LBA out of range.
    // The device has no data for the announced stage: it stalls bulk IN, the host clears the
    // halt and reads the CSW (BOT 6.7.2).
    let past_end = [0x28, 0, 0, 0, 0, 63, 0, 0, 2, 0];
    xfer(h, bulk, 0x02, cbw(6, 1024, true, &past_end), 31, 100).unwrap();
    assert_eq!(xfer(h, bulk, 0x81, vec![], 1024, 100), Err(UsbError::Pipe));
    h.clear_halt(0x81).unwrap();
    let csw = xfer(h, bulk, 0x81, vec![], 13, 100).unwrap();
    assert_eq!(
        (csw[12], u32::from_le_bytes(csw[8..12].try_into().unwrap())),
        (1, 1024)
    );
    let (sense, _) = command(h, 7, &[0x03, 0, 0, 0, 18, 0], None, 18);
    assert_eq!((sense[2], sense[12]), (5, 0x21));
    // An unknown opcode.
    assert_eq!(command(h, 8, &[0xFF, 0, 0, 0, 0, 0], None, 0).1, 1);
    // A bad CBW halts both endpoints until reset recovery.
    assert_eq!(
        xfer(h, bulk, 0x02, vec![0; 31], 31, 100),
        Err(UsbError::Pipe)
    );
    assert_eq!(xfer(h, bulk, 0x81, vec![], 13, 100), Err(UsbError::Pipe));
    control(h, 0x21, 0xFF, 0, 0, vec![], 0).unwrap();
    h.clear_halt(0x81).unwrap();
    h.clear_halt(0x02).unwrap();
    assert_eq!(command(h, 9, &[0, 0, 0, 0, 0, 0], None, 0).1, 0);
}

#[test]
fn keyboard_types_its_text_then_naks() {
    let dir = tempfile_dir();
    let mut host = sim("device keyboard keys=Hi\\n\n", &dir);
    let key = host.devices().unwrap()[0].key;
    let mut h = host.open(key).unwrap();
    let h = h.as_mut();
    h.set_configuration(Some(1)).unwrap();
    let report_desc = control(h, 0x81, 6, 0x2200, 0, vec![], 255).unwrap();
    assert_eq!(report_desc.len(), 63);
    control(h, 0x21, 0x0A, 0, 0, vec![], 0).unwrap(); // SET_IDLE
    let mut reports = Vec::new();
    while let Ok(r) = xfer(h, TransferType::Interrupt, 0x81, vec![], 8, 20) {
        reports.push(r);
    }
    assert_eq!(
        reports,
        [
            vec![2, 0, 11, 0, 0, 0, 0, 0],
            vec![0; 8],
            vec![0, 0, 12, 0, 0, 0, 0, 0],
            vec![0; 8],
            vec![0, 0, 40, 0, 0, 0, 0, 0],
            vec![0; 8],
        ]
    );
    assert!(Simulation::parse("device keyboard keys=é\n", &dir).is_err());
}

#[test]
fn hotplug_reports_arrivals_and_departures() {
    let dir = tempfile_dir();
    let mut host = sim(
        "device echo\ndevice keyboard keys=a arrive-ms=40\ndevice echo pid=0001 leave-ms=40\n",
        &dir,
    );
    assert_eq!(host.poll_events(), vec![], "nothing before enable-hotplug");
    host.enable_hotplug().unwrap();
    assert_eq!(host.devices().unwrap().len(), 2);
    let gone = host.devices().unwrap()[1].key;
    let mut h = host.open(gone).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let events = host.poll_events();
    let summary: Vec<(Event, u16)> = events
        .iter()
        .map(|(e, d)| (*e, d.descriptor.product_id))
        .collect();
    assert_eq!(summary, [(Event::Arrived, 0xC31C), (Event::Left, 0x0001)]);
    assert!(host.poll_events().is_empty());
    assert_eq!(h.get_configuration(), Err(UsbError::NoDevice));
    assert_eq!(host.open(gone).err(), Some(UsbError::NoDevice));
}

#[test]
fn refuses_bad_files() {
    let dir = tempfile_dir();
    for bad in [
        "echo",
        "device",
        "device mouse",
        "device echo vid=zz",
        "device echo colour=red",
        "device storage",
        "device echo address=300",
        "device keyboard keys=a arrive-ms=soon",
    ] {
        assert!(Simulation::parse(bad, &dir).is_err(), "{bad}");
    }
}

#[test]
fn a_simulated_kernel_driver_holds_its_interfaces_until_detached() {
    let mut host = sim(
        "device echo kernel-driver=yes\ndevice echo pid=0001\n",
        Path::new("/"),
    );
    let devices = host.devices().unwrap();
    let mut h = host.open(devices[0].key).unwrap();
    assert_eq!(h.kernel_driver_active(0), Ok(true));
    assert_eq!(h.claim_interface(0), Err(UsbError::Busy));
    h.detach_kernel_driver(0).unwrap();
    assert_eq!(h.kernel_driver_active(0), Ok(false));
    h.claim_interface(0).unwrap();
    // Claimed: the driver cannot bind until the interface is released.
    assert_eq!(h.attach_kernel_driver(0), Err(UsbError::Busy));
    h.release_interface(0).unwrap();
    h.attach_kernel_driver(0).unwrap();
    assert_eq!(h.attach_kernel_driver(0), Err(UsbError::Busy));
    // Without the option, no driver: nothing to detach, as libusb says.
    let mut plain = host.open(devices[1].key).unwrap();
    assert_eq!(plain.kernel_driver_active(0), Ok(false));
    assert_eq!(plain.detach_kernel_driver(0), Err(UsbError::NotFound));
}
