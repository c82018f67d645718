//! Who may see and change an image (SPEC section 4).

use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::core::image::Image;

/// `public` and `community` images are for everyone; `shared` and `private`
/// ones for the owning project's readers and for admins.
pub fn can_see(who: &Identity, image: &Image) -> bool {
    who.is_admin()
        || matches!(image.visibility.as_str(), "public" | "community")
        || (who.owns(image.owner.as_deref()) && who.is_reader())
}

/// Tags, PATCH and DELETE: admins, and members of the owning project.
pub fn can_modify(who: &Identity, image: &Image) -> bool {
    who.is_admin() || (who.owns(image.owner.as_deref()) && who.is_member())
}

/// Creating an image needs `member`; creating a `public` one needs `admin`.
pub fn can_create(who: &Identity) -> bool {
    who.is_member() && who.project.is_some() || who.is_admin()
}

pub fn can_publicize(who: &Identity) -> bool {
    who.is_admin()
}

/// Seen but not changeable: 403. Not seen: 404, so ids of others' private
/// images do not leak.
pub fn check_modify(who: &Identity, image: &Image, id: &str) -> Result<(), Error> {
    if !can_see(who, image) {
        return Err(Error::image_not_found(id));
    }
    if !can_modify(who, image) {
        return Err(Error::ModifyDenied);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(owner: &str, visibility: &str) -> Image {
        let mut image = Image::new("id".into(), owner.into(), 0);
        image.visibility = visibility.into();
        image
    }

    #[test]
    fn the_visibility_and_role_matrix() {
        let owner_member = Identity::new("a", &["member"]);
        let owner_reader = Identity::new("a", &["reader"]);
        let other_member = Identity::new("b", &["member"]);
        let admin = Identity::new("z", &["admin"]);
        for vis in ["private", "shared"] {
            let img = image("a", vis);
            assert!(can_see(&owner_member, &img) && can_modify(&owner_member, &img));
            assert!(can_see(&owner_reader, &img) && !can_modify(&owner_reader, &img));
            assert!(!can_see(&other_member, &img) && !can_modify(&other_member, &img));
            assert!(can_see(&admin, &img) && can_modify(&admin, &img));
        }
        for vis in ["public", "community"] {
            let img = image("a", vis);
            assert!(can_see(&owner_member, &img) && can_modify(&owner_member, &img));
            assert!(can_see(&owner_reader, &img) && !can_modify(&owner_reader, &img));
            assert!(can_see(&other_member, &img) && !can_modify(&other_member, &img));
            assert!(can_modify(&admin, &img));
        }
        assert!(!can_create(&owner_reader));
        assert!(can_create(&owner_member));
        assert!(!can_publicize(&owner_member) && can_publicize(&admin));
    }
}
